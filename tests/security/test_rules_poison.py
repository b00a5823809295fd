"""Threat: one organization's poisoned rule blocks the rules of every organization.

A content manager of hrh (organization A) stores, past the editor, a rule whose action sets a
value PostgreSQL cannot store (text holding U+0000), and a rule whose action breaks on a
partner's input (an end date from a time slot that is no date). Before, the action's
DataError or ValueError escaped the evaluation: the whole hand-off batch failed, nothing in it
was marked done, and the other organization's events in the batch were never evaluated; the
simulator answered 500. Now a failing action is that action's failure, recorded with its
reason; the evaluation, the following actions and every other event go on; the editor refuses
such an expression at the field.
"""

import dataclasses
import threading

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from dev.demo import create_demo_rules
from integrations.models import InboundEvent, InboundSource, InboundStatus
from plans import services as plan_services
from plans.models import FormAssignment, Plan
from rules import inbound, services
from rules.action_compiler import CompiledAction
from rules.compiler import TableErrors, compile_table
from rules.languages.expression_ast import Literal
from rules.languages.expressions import Expression
from rules.models import ActionKind, Rule, RuleAction, RuleEvaluation, Trigger
from rules.tables import forget_all
from templates.models import CustomField, FieldType
from tests.fixtures.waiting import wait_until

SUBJECT = "aiEngineTimeSlot"
# Ways the expression language spells U+0000 inside text.
NUL_ESCAPES = ['"x\\u0000y"', '"x\\0y"', '"x\\x00y"', '"x\\u{0}y"']


@pytest.fixture(autouse=True)
def _fresh_compiled_tables():
    forget_all()


def time_slot(plan: Plan, slot: str) -> InboundEvent:
    """An accepted event for `plan`, stored without its hand-off (the test hands it over)."""
    return InboundEvent.objects.create(
        organization_id=plan.organization_id,
        subject=SUBJECT,
        source=InboundSource.REST,
        status=InboundStatus.ACCEPTED,
        payload={"planId": str(plan.pk), "timeSlot": slot},
        payload_hash=f"{plan.pk}-{slot}",
        plan_ids=[plan.pk],
    )


def session_params() -> dict:
    """How to open another session on the test database."""
    params = connection.get_connection_params()
    return {
        key: params[key] for key in ("dbname", "user", "password", "host", "port") if key in params
    }


def poison(template) -> None:
    """A's content manager's rules, saved through the ORM (no editor checks): one sets the
    plan's title to text holding U+0000; one sets the end date from the partner's slot, then
    a score."""
    stored = Rule.objects.create(
        template=template, name="Poisoned", trigger=Trigger.INTEGRATION, subject=SUBJECT, position=1
    )
    RuleAction.objects.create(
        rule=stored, kind=ActionKind.SET_DATA_POINT, target="plan.title", expression=NUL_ESCAPES[0]
    )
    dated = Rule.objects.create(
        template=template, name="End date", trigger=Trigger.INTEGRATION, subject=SUBJECT, position=2
    )
    RuleAction.objects.create(
        rule=dated,
        kind=ActionKind.SET_DATA_POINT,
        target="plan.endDate",
        expression=f'lastVal("integration.{SUBJECT}.timeSlot")',
        position=0,
    )
    RuleAction.objects.create(
        rule=dated, kind=ActionKind.SET_DATA_POINT, target="plan.score", expression="7", position=1
    )


def test_given_a_poisoned_rule_of_org_a_when_a_batch_holds_both_orgs_events_then_b_is_done(
    celery_worker, template, plan, other_template, other_plan
):
    # Given both organizations with the seed's rule, and A's poisoned rules besides
    create_demo_rules(template)
    create_demo_rules(other_template)
    poison(template)
    # When one hand-off task carries A's event (a slot that is no date) and then B's
    mine, theirs = time_slot(plan, "soon"), time_slot(other_plan, "2026-12-01T09:30")
    inbound.queue_evaluation([mine.pk, theirs.pk])
    # Then B's event is evaluated and done: its patient has the prefilled form
    wait_until(lambda: InboundEvent.objects.get(pk=theirs.pk).rules_done_at is not None)
    assert FormAssignment.objects.get(plan=other_plan, definition__form__name="appointment")
    # And A's event is done too, each failure recorded where it happened
    wait_until(lambda: InboundEvent.objects.get(pk=mine.pk).rules_done_at is not None)
    evaluation = RuleEvaluation.objects.get(plan=plan)
    rows = {row["name"]: row for row in evaluation.row_outcomes()}
    assert rows["Poisoned"]["fired"] is False
    assert "U+0000" in rows["Poisoned"]["problem"]
    outcomes = [(action["action"], action["ok"]) for action in evaluation.actions]
    assert outcomes == [
        ("Assign form: appointment → Patient", True),
        ("Set data point: plan.riskStatus", True),
        ("Set data point: plan.endDate", False),
        ("Set data point: plan.score", True),
    ]
    assert "soon" in evaluation.actions[2]["detail"]
    plan.refresh_from_db()
    assert (plan.end_date, plan.custom_fields["score"], plan.risk_status) == (None, 7, "scheduled")


def test_given_an_action_value_postgres_cannot_store_when_it_runs_then_only_that_action_fails(
    template, plan, other_template, other_plan
):
    # Given A's table with actions setting text holding U+0000, as a row stored before the
    # editor checked it (or a gap in the check) would compile: the title (refused by the
    # driver) and a text custom field (refused by the server, aborting its transaction)
    create_demo_rules(template)
    create_demo_rules(other_template)
    CustomField.objects.create(template=template, name="note", field_type=FieldType.TEXT)
    table = compile_table(template)
    nul = Expression('"x\\0y"', Literal("x\x00y"), frozenset(), "text")
    poisoned = tuple(
        CompiledAction(ActionKind.SET_DATA_POINT, 0, target, target=info, value=nul)
        for target in ("plan.title", "plan.note")
        for info in [table.catalog.require(target, writable=True)]
    )
    (row,) = table.rules
    table.rules = [dataclasses.replace(row, actions=(*poisoned, *row.actions), json_cache={})]
    trigger = services.PlanTrigger(Trigger.INTEGRATION, subject=SUBJECT)
    # When A's plan is evaluated
    (evaluation,) = services.evaluate_plans(template, [plan], trigger, table=table)
    # Then each poisoned action failed with the database's reason, and the next ones ran
    title, note, *rest = evaluation.actions
    assert (title["ok"], note["ok"]) == (False, False)
    assert "NUL (0x00)" in title["detail"]
    assert "DataError" in note["detail"] and "\\u0000" in note["detail"]
    assert [action["ok"] for action in rest] == [True, True]
    plan.refresh_from_db()
    assert (plan.title, plan.custom_fields.get("note"), plan.risk_status) == (
        "ER follow-up",
        None,
        "scheduled",
    )
    # And the same transaction goes on: B's event is evaluated and recorded
    theirs = time_slot(other_plan, "2026-12-01T09:30")
    assert services.evaluate_inbound_events([theirs.pk]).recorded == 1
    assert RuleEvaluation.objects.filter(plan=other_plan).count() == 1


@pytest.mark.django_db(transaction=True)
def test_given_a_locked_row_when_an_action_times_out_then_the_event_retries_instead_of_failing(
    template, plan, other_template, other_plan, work_queue, actor
):
    # Given A's rule changes the status of the plan's work queue item, and another session
    # holds that item's row (a long transaction elsewhere)
    create_demo_rules(template)
    create_demo_rules(other_template)
    item = plan_services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="t")
    row = Rule.objects.get(template=template)
    RuleAction.objects.create(
        rule=row,
        kind=ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS,
        work_queue=work_queue,
        status="done",
        position=2,
    )
    mine, theirs = time_slot(plan, "2026-12-01T09:30"), time_slot(other_plan, "2026-12-01T10:00")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(**session_params()) as other, other.transaction():
            other.execute("SELECT 1 FROM plans_workqueueitem WHERE id = %s FOR UPDATE", [item.pk])
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30), "the other session could not lock the item"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        # When one task hands over A's event and B's
        done = inbound.run_rules([mine.pk, theirs.pk])
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    # Then B's event is done, and A's is not: the timeout is no failure of the action (it
    # would have worked a moment later), so nothing of A's evaluation stayed
    assert done == 1
    assert InboundEvent.objects.get(pk=theirs.pk).rules_done_at is not None
    failed = InboundEvent.objects.get(pk=mine.pk)
    assert failed.rules_done_at is None
    assert "lock" in failed.rules_error
    assert not RuleEvaluation.objects.filter(plan=plan).exists()
    # When it is handed over again with the row free
    assert inbound.run_rules([mine.pk]) == 1
    # Then it is evaluated once, every action done
    evaluation = RuleEvaluation.objects.get(plan=plan)
    assert [action["ok"] for action in evaluation.actions] == [True, True, True]
    assert InboundEvent.objects.get(pk=mine.pk).rules_error == ""


def test_given_a_poisoned_rule_when_simulated_then_the_page_shows_the_failures(
    client, hrh_content_manager, template, plan, other_template
):
    # Given A's poisoned rules, saved past the editor
    create_demo_rules(template)
    create_demo_rules(other_template)
    poison(template)
    client.force_login(hrh_content_manager)
    url = reverse("admin:rules_decisiontable_simulate", args=[template.pk])
    # When A's content manager simulates a slot that is no date
    response = client.post(
        url,
        {
            "plan": plan.pk,
            "trigger": "integration",
            "subject": SUBJECT,
            "payload": '{"timeSlot": "soon"}',
            "values": "",
        },
    )
    # Then the page shows each failure as the evaluation records it, and nothing stayed
    assert response.status_code == 200
    (evaluation,) = response.context["result"]
    rows = {row["name"]: row for row in evaluation.rows}
    assert "U+0000" in rows["Poisoned"]["reason"]
    assert [action["ok"] for action in evaluation.actions] == [True, True, False, True]
    assert "soon" in response.content.decode()
    assert not RuleEvaluation.objects.exists()


@pytest.mark.parametrize("expression", NUL_ESCAPES)
def test_given_text_holding_u0000_when_a_rule_is_saved_then_it_is_refused_at_the_field(
    client, hrh_content_manager, template, other_template, expression
):
    create_demo_rules(template)
    create_demo_rules(other_template)
    row = Rule.objects.get(template=template)
    client.force_login(hrh_content_manager)
    # When A's content manager adds an action whose expression spells U+0000
    data = {
        "position": 0,
        "name": row.name,
        "enabled": "on",
        "trigger": row.trigger,
        "subject": row.subject,
        "elapsed_reference": "",
        "elapsed_amount": "",
        "elapsed_unit": "",
        "cell_timeSlot": "",
        "cell_riskStatus": "!=scheduled",
        "actions-TOTAL_FORMS": "1",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
        "actions-0-rule": row.pk,
        "actions-0-position": 5,
        "actions-0-kind": ActionKind.SET_DATA_POINT,
        "actions-0-target": "plan.title",
        "actions-0-expression": expression,
        "actions-0-form_assignment": "",
        "actions-0-work_queue": "",
        "actions-0-status": "",
    }
    response = client.post(reverse("admin:rules_rule_change", args=[row.pk]), data)
    # Then the save is refused with the error at the expression
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "U+0000" in formset.errors[0]["expression"][0]
    assert row.actions.count() == 2
    # And a stored one (the ORM, an import) is refused whole by the strict check
    RuleAction.objects.create(
        rule=row, kind=ActionKind.SET_DATA_POINT, target="plan.title", expression=expression
    )
    with pytest.raises(TableErrors, match="U\\+0000"):
        compile_table(template, strict=True)
    # And B's table, untouched, still compiles
    compile_table(other_template, strict=True)


def test_given_a_default_calculation_holding_u0000_when_saved_then_it_is_refused_at_the_field(
    template, other_template
):
    create_demo_rules(template)
    create_demo_rules(other_template)
    definition = template.form_assignment_definitions.get(form__name="appointment")
    definition.default_calculations = {"slot": '"09:30\\u0000"'}
    with pytest.raises(ValidationError) as refused:
        definition.full_clean()
    assert "U+0000" in " ".join(refused.value.message_dict["default_calculations"])
    # And one that does not compile is refused there too, with its line and column
    definition.default_calculations = {"slot": "lastStr("}
    with pytest.raises(ValidationError) as refused:
        definition.full_clean()
    assert "line 1" in " ".join(refused.value.message_dict["default_calculations"])
