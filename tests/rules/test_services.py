"""Evaluation, actions and the audit trail, in process against the real database."""

import json
from datetime import timedelta

import pytest

from dev.demo import create_demo_rules
from events.models import OutboxEvent
from integrations.models import InboundEvent, InboundSource, InboundStatus
from plans import services as plan_services
from plans.models import FormAssignment, WorkQueueItem
from rules import services
from rules.engine import row_reason
from rules.models import ActionKind, Rule, RuleAction, RuleColumn, RuleEvaluation, Trigger
from templates.models import FormField

pytestmark = pytest.mark.django_db


def accepted_event(plan, payload, trace_id="trace-slot-1"):
    return InboundEvent.objects.create(
        organization_id=plan.organization_id,
        subject="aiEngineTimeSlot",
        source=InboundSource.REST,
        status=InboundStatus.ACCEPTED,
        payload=payload,
        payload_hash=str(hash(str(payload))),
        plan_ids=[plan.pk],
        trace_id=trace_id,
    )


def test_the_seed_example_assigns_the_prefilled_form_and_sets_the_risk_status(demo_rules, plan):
    # Given an accepted time slot for the plan
    event = accepted_event(plan, {"planId": str(plan.pk), "timeSlot": "2026-12-01T09:30"})
    # When the rules evaluate it
    assert services.evaluate_inbound_events([event.pk]).recorded == 1
    # Then the patient has the appointment form, prefilled with the slot
    assignment = FormAssignment.objects.get(plan=plan, definition__form__name="appointment")
    assert assignment.user == plan.user
    assert assignment.prefill == {"slot": "2026-12-01T09:30"}
    plan.refresh_from_db()
    assert plan.risk_status == "scheduled"
    # And the evaluation is recorded with the event's trace id, inputs and actions
    evaluation = RuleEvaluation.objects.get(chain_depth=0)
    assert evaluation.trace_id == "trace-slot-1"
    assert evaluation.inputs == {"timeSlot": "2026-12-01T09:30", "riskStatus": ""}
    assert [row["fired"] for row in evaluation.row_outcomes()] == [True]
    assert [action["ok"] for action in evaluation.actions] == [True, True]
    # And planUpdated carries the trace id too
    updated = OutboxEvent.objects.filter(event_type="planUpdated").latest("id")
    assert updated.trace_id == "trace-slot-1"
    assert json.loads(updated.payload)["traceId"] == "trace-slot-1"
    # When the same event is handed over again, nothing more happens
    assert services.evaluate_inbound_events([event.pk]).recorded == 0
    assert FormAssignment.objects.filter(definition__form__name="appointment").count() == 1


# --- helpers -------------------------------------------------------------------------------


def column(template, name, reference="", expression="", value_type="", position=0):
    return RuleColumn.objects.create(
        template=template,
        name=name,
        reference=reference,
        expression=expression,
        value_type=value_type,
        position=position,
    )


def rule(template, name, trigger=Trigger.ON_CHANGE, cells=None, position=0, **extra):
    return Rule.objects.create(
        template=template,
        name=name,
        trigger=trigger,
        cells=cells or {},
        position=position,
        **extra,
    )


def action(row, kind, position=0, **extra):
    return RuleAction.objects.create(rule=row, kind=kind, position=position, **extra)


def overdue_after_three_days(template):
    """A time-elapsed row: three days after the plan's start, risk status "overdue"."""
    row = rule(
        template,
        "No intake after 3 days",
        trigger=Trigger.TIME_ELAPSED,
        elapsed_reference="plan.startDate",
        elapsed_amount=3,
        elapsed_unit="days",
    )
    action(row, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"overdue"')
    return row


def submit_intake(actor, plan, **data):
    assignment = plan.form_assignments.get(definition__form__name="intake", user=plan.user)
    return plan_services.submit_form(actor=actor, assignment=assignment, data=data)


# --- on change: form submissions --------------------------------------------------------


def test_a_submission_fires_the_rows_whose_cells_all_hold_in_row_order(actor, template, plan):
    column(template, "age", "submission.intake.age")
    column(template, "symptoms", "submission.intake.symptoms", position=1)
    elderly = rule(template, "Elderly", cells={"age": ">=65"}, position=0)
    action(elderly, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"high"')
    feverish = rule(template, "Fever", cells={"symptoms": "=fever", "age": ""}, position=1)
    action(feverish, ActionKind.SET_DATA_POINT, target="plan.triage", expression='"red"')
    ignored = rule(template, "Children", cells={"age": "<12"}, position=2)
    action(ignored, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"child"')
    submission = submit_intake(actor, plan, age=70, symptoms=["fever", "cough"])
    # When the worker evaluates the submission
    assert services.evaluate_submission(submission.pk, "trace-form") == 1
    # Then both matching rows fired, in order, and the third says why not
    plan.refresh_from_db()
    assert (plan.risk_status, plan.custom_fields) == ("high", {"triage": "red"})
    evaluation = RuleEvaluation.objects.get(chain_depth=0)
    assert evaluation.trigger_detail == {"submissionId": submission.pk, "form": "intake"}
    assert evaluation.row_outcomes()[2] == {
        "rule": ignored.pk,
        "name": "Children",
        "fired": False,
        "column": "age",
        "cell": "<12",
    }
    assert row_reason(evaluation.row_outcomes()[2], evaluation.inputs) == (
        "age is 70; the cell `<12` does not hold"
    )
    assert evaluation.fired_rules == [elderly.pk, feverish.pk]
    assert evaluation.trace_id == "trace-form"
    # And the same submission is never evaluated twice
    assert services.evaluate_submission(submission.pk, "trace-form") == 0


def test_a_disabled_row_and_a_row_of_another_trigger_are_not_evaluated(actor, template, plan):
    column(template, "age", "submission.intake.age")
    rule(template, "Off", cells={"age": ">1"}, enabled=False)
    rule(template, "Later", trigger=Trigger.INTEGRATION, cells={"age": ">1"}, position=1)
    submission = submit_intake(actor, plan, age=30)
    assert services.evaluate_submission(submission.pk) == 0
    assert not RuleEvaluation.objects.exists()


def test_dates_in_form_data_are_compared_and_calculated_as_dates(actor, template, plan):
    # Given a form with a date field, stored as ISO text
    form = template.forms.get(name="intake")
    FormField.objects.create(form=form, name="seen", field_type="date", position=9)
    column(template, "seen", "submission.intake.seen")
    column(
        template,
        "daysAfter",
        expression='differenceInDays(lastVal("submission.intake.seen"), new Date(2026, 0, 1))',
        value_type="number",
        position=1,
    )
    row = rule(template, "Late visit", cells={"seen": ">=2026-01-10", "daysAfter": "range[9,31)"})
    action(
        row,
        ActionKind.SET_DATA_POINT,
        target="plan.riskStatus",
        expression='dateFormat(dateAdd(lastVal("submission.intake.seen"), {days: 1}), "dd.MM.")',
    )
    submission = submit_intake(actor, plan, age=40, seen="2026-01-10")
    services.evaluate_submission(submission.pk)
    plan.refresh_from_db()
    assert plan.risk_status == "11.01."
    evaluation = RuleEvaluation.objects.get(chain_depth=0)
    assert evaluation.inputs == {"seen": "2026-01-10", "daysAfter": 9}


# --- actions ---------------------------------------------------------------------------------


def test_work_queue_actions_create_an_item_and_move_it(actor, template, plan, work_queue):
    column(template, "age", "submission.intake.age")
    column(template, "item", "workQueueItem.triage.status", position=1)
    # `null`: only while the plan has no item, or the chain would create one each time
    row = rule(template, "Walk-in", cells={"age": ">=18", "item": "null"})
    action(
        row,
        ActionKind.CREATE_WORK_QUEUE_ITEM,
        work_queue=work_queue,
        expression='"Visit for " + lastStr("plan.title")',
    )
    action(
        row,
        ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS,
        position=1,
        work_queue=work_queue,
        status="in_service",
    )
    action(
        row,
        ActionKind.SET_DATA_POINT,
        position=2,
        target="workQueueItem.triage.priority",
        expression="power(2, 3)",
    )
    submission = submit_intake(actor, plan, age=40)
    services.evaluate_submission(submission.pk, "trace-queue")
    item = WorkQueueItem.objects.get(plan=plan)
    assert (item.title, item.status.status_id, item.priority) == (
        "Visit for ER follow-up",
        "in_service",
        8,
    )
    # The status change's event carries the trace id of the submission
    moved = OutboxEvent.objects.get(event_type="workQueueItemStatusUpdated")
    assert moved.trace_id == "trace-queue"


def test_a_failing_action_is_recorded_and_the_next_one_still_runs(actor, template, plan):
    column(template, "age", "submission.intake.age")
    row = rule(template, "Adult", cells={"age": ">=18"})
    nurse_intake = template.form_assignment_definitions.get(role__role_id="Nurse")
    # The intake given to the nurse has no default calculation, but the plan is then closed
    action(row, ActionKind.SET_DATA_POINT, target="plan.status", expression='"CLOSED"')
    action(row, ActionKind.ASSIGN_FORM, position=1, form_assignment=nurse_intake)
    action(row, ActionKind.SET_DATA_POINT, position=2, target="plan.riskStatus", expression='"x"')
    submission = submit_intake(actor, plan, age=40)
    services.evaluate_submission(submission.pk)
    evaluation = RuleEvaluation.objects.get(chain_depth=0)
    assert [a["ok"] for a in evaluation.actions] == [True, False, True]
    assert (
        evaluation.actions[1]["detail"]
        == f"plan: Plan {plan.pk} is CLOSED; only open plans change."
    )
    plan.refresh_from_db()
    assert (plan.status, plan.risk_status) == ("CLOSED", "x")


# --- chains ----------------------------------------------------------------------------------


def test_a_chain_of_changes_stops_at_the_limit_and_says_so(actor, template, plan, settings):
    settings.HEALIX_RULES_CHAIN_LIMIT = 3
    # Given a row that changes the score every time the score changes (forever, uncapped)
    column(template, "age", "submission.intake.age")
    row = rule(template, "Bump", cells={"age": ">=0"})
    action(
        row,
        ActionKind.SET_DATA_POINT,
        target="plan.score",
        expression='lastVal("plan.score") + 1',
    )
    submission = submit_intake(actor, plan, age=1)
    services.evaluate_submission(submission.pk)
    # Then three evaluations ran (depths 0, 1, 2) and the last one records the stop
    evaluations = list(RuleEvaluation.objects.order_by("chain_depth"))
    assert [e.chain_depth for e in evaluations] == [0, 1, 2]
    assert [e.chain_stopped for e in evaluations] == [False, False, True]
    assert evaluations[1].trigger_detail == {"chainedFrom": evaluations[0].pk}
    plan.refresh_from_db()
    assert plan.custom_fields["score"] == 3


def test_an_action_that_changes_nothing_does_not_chain(actor, template, plan):
    column(template, "age", "submission.intake.age")
    row = rule(template, "Same", cells={"age": ">=0"})
    action(row, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"low"')
    services.evaluate_submission(submit_intake(actor, plan, age=1).pk)
    # The first evaluation changed riskStatus, the chained one set the same value: no third
    assert [e.chain_depth for e in RuleEvaluation.objects.order_by("chain_depth")] == [0, 1]


# --- time elapsed ----------------------------------------------------------------------------


def test_a_time_elapsed_rule_fires_once_per_due_date_across_ticks(actor, template, plan):
    start = plan.start_date
    row = overdue_after_three_days(template)
    # Before the due date nothing happens
    assert services.evaluate_due_rules(now=start + timedelta(days=2)) == 0
    # At and after it, one evaluation, however many ticks
    for hours in (0, 1, 24):
        services.evaluate_due_rules(now=start + timedelta(days=3, hours=hours))
    evaluation = RuleEvaluation.objects.get(chain_depth=0)
    assert evaluation.trigger == Trigger.TIME_ELAPSED
    assert evaluation.trigger_detail == {
        "ruleId": row.pk,
        "dueAt": (start + timedelta(days=3)).isoformat(),
    }
    plan.refresh_from_db()
    assert plan.risk_status == "overdue"


def test_a_closed_plan_is_not_due(actor, template, plan):
    rule(
        template,
        "Overdue",
        trigger=Trigger.TIME_ELAPSED,
        elapsed_reference="plan.startDate",
        elapsed_amount=1,
        elapsed_unit="hours",
    )
    plan_services.update_plan(actor=actor, plan=plan, status="CLOSED")
    assert services.evaluate_due_rules(now=plan.start_date + timedelta(days=1)) == 0


# --- tenancy ---------------------------------------------------------------------------------


def test_an_event_reaches_only_plans_of_its_own_organization(demo_rules, plan, other_plan):
    # Given an event of hrh that (forged) also names the other organization's plan
    event = accepted_event(plan, {"timeSlot": "09:30"})
    event.plan_ids = [plan.pk, other_plan.pk]
    event.save(update_fields=["plan_ids"])
    create_demo_rules(other_plan.template)
    services.evaluate_inbound_events([event.pk])
    # Then only hrh's plan was evaluated and changed
    assert list(RuleEvaluation.objects.values_list("plan_id", flat=True).distinct()) == [plan.pk]
    other_plan.refresh_from_db()
    assert other_plan.risk_status == ""


def test_rules_act_as_the_organizations_rules_user(demo_rules, plan, other_org):
    event = accepted_event(plan, {"timeSlot": "09:30"})
    services.evaluate_inbound_events([event.pk])
    assignment = FormAssignment.objects.get(definition__form__name="appointment")
    assert assignment.assigned_by.username == "healix-rules@hrh"
    assert assignment.assigned_by.organization_id == plan.organization_id
    assert not assignment.assigned_by.has_usable_password()
    assert not assignment.assigned_by.is_staff


# --- never failing at run time -----------------------------------------------------------------


def test_a_row_that_no_longer_validates_is_recorded_not_run(actor, template, plan):
    # Given a row on the intake's notes, whose field is deleted after the row was saved
    column(template, "age", "submission.intake.age")
    column(template, "notes", "submission.intake.notes", position=1)
    broken = rule(template, "Notes", cells={"notes": "=knee", "age": ""})
    action(broken, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"x"')
    fine = rule(template, "Adult", cells={"age": ">=18"}, position=1)
    template.forms.get(name="intake").fields.get(name="notes").delete()
    services.evaluate_submission(submit_intake(actor, plan, age=40).pk)
    # Then the broken row is recorded with its problem, and the other row still fires
    evaluation = RuleEvaluation.objects.get()
    assert evaluation.row_outcomes()[0]["fired"] is False
    assert evaluation.row_outcomes()[0]["problem"].startswith("not run: the row does not validate")
    assert "submission.intake.notes" in evaluation.row_outcomes()[0]["problem"]
    assert evaluation.fired_rules == [fine.pk]
    plan.refresh_from_db()
    assert plan.risk_status == ""


def test_a_calculation_that_fails_at_run_time_fails_its_cells_with_the_reason(
    actor, template, plan
):
    # Given a calculated date column over a form date nobody filled in
    form = template.forms.get(name="intake")
    FormField.objects.create(form=form, name="seen", field_type="date", position=9)
    column(
        template,
        "followUp",
        expression='dateAdd(lastVal("submission.intake.seen"), {days: 7})',
        value_type="date",
    )
    rule(template, "Follow up", cells={"followUp": "<=2030-01-01"})
    services.evaluate_submission(submit_intake(actor, plan, age=40).pk)
    evaluation = RuleEvaluation.objects.get()
    assert evaluation.inputs == {"followUp": None}
    assert evaluation.row_outcomes()[0]["fired"] is False
    assert evaluation.row_outcomes()[0]["problem"].startswith(
        "followUp could not be calculated: dateAdd"
    )
