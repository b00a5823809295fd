"""plans/services/: every service's happy path, and each refusal with its message."""

import re
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plans import services
from plans.models import (
    FormAssignment,
    FormAssignmentStatus,
    Plan,
    PlanStatus,
    WorkQueueItem,
    WorkQueueItemStatusChange,
)
from templates.models import WorkQueue
from tests.fixtures.domain import make_template, make_user, make_work_queue

pytestmark = pytest.mark.django_db


def messages_of(excinfo) -> dict:
    return excinfo.value.message_dict


def plan_reads(statements) -> list[str]:
    """The statements that read the plans table."""
    sql = (statement["sql"] for statement in statements.captured_queries)
    return [s for s in sql if re.search(r'\bFROM "?plans_plan"?\s', s)]


# --- assign_plan ---------------------------------------------------------------------------


def test_assign_plan_creates_roles_and_at_once_forms(actor, template, patient, nurse):
    # Given the demo template (intake at once to Patient; appointment by rule)
    # When a plan is assigned to the patient with a nurse
    plan = services.assign_plan(
        actor=actor,
        template=template,
        user=patient,
        role_assignments={"Nurse": nurse},
        custom_fields={"score": 3},
    )
    # Then the primary role defaults to the patient, the nurse holds Nurse
    holders = {ra.role.role_id: ra.user for ra in plan.role_assignments.select_related("role")}
    assert holders == {"Patient": patient, "Nurse": nurse}
    # And only the at-once form is assigned, to the patient
    assignments = list(plan.form_assignments.select_related("definition__form"))
    assert [(a.definition.form.name, a.user) for a in assignments] == [("intake", patient)]
    assert plan.status == PlanStatus.OPEN
    assert plan.custom_fields == {"score": 3}
    assert plan.created_by == actor


def test_assign_plan_refuses_unknown_role_and_wrong_user_type(actor, template, patient, nurse):
    # Given a role id the template lacks, and a patient put in the staff-only Nurse role
    # When the plan is assigned
    with pytest.raises(ValidationError) as excinfo:
        services.assign_plan(
            actor=actor,
            template=template,
            user=patient,
            role_assignments={"Doctor": nurse, "Nurse": patient},
        )
    # Then both problems are named under role_assignments, and nothing was created
    assert messages_of(excinfo)["role_assignments"] == [
        "Doctor: not a role of template sAI-ERComp.",
        "Nurse: Role Nurse may be held by STAFF users, not USER.",
    ]
    assert Plan.objects.count() == 0


def test_assign_plan_refuses_a_person_of_another_organization(actor, template, other_patient):
    with pytest.raises(ValidationError) as excinfo:
        services.assign_plan(actor=actor, template=template, user=other_patient)
    assert messages_of(excinfo) == {"user": ["other-patient belongs to another organization."]}


def test_assign_plan_refuses_an_actor_of_another_organization(other_actor, template, patient):
    with pytest.raises(ValidationError) as excinfo:
        services.assign_plan(actor=other_actor, template=template, user=patient)
    assert excinfo.value.messages == ["The acting user does not belong to this organization."]


def test_assign_plan_refuses_bad_custom_fields(actor, template, patient):
    with pytest.raises(ValidationError) as excinfo:
        services.assign_plan(
            actor=actor,
            template=template,
            user=patient,
            custom_fields={"score": "high", "colour": "red"},
        )
    assert sorted(messages_of(excinfo)["custom_fields"]) == [
        "colour: Not a field of template sAI-ERComp.",
        "score: Expected a number.",
    ]


def test_assign_plan_refuses_an_end_before_the_start(actor, template, patient):
    start = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        services.assign_plan(
            actor=actor,
            template=template,
            user=patient,
            start_date=start,
            end_date=start - timedelta(days=1),
        )
    assert excinfo.value.messages == ["endDate cannot be before startDate."]


def test_superuser_without_organization_may_act(template, patient, django_user_model):
    operator = django_user_model.objects.create_superuser("operator", password="x")
    plan = services.assign_plan(actor=operator, template=template, user=patient)
    assert plan.organization_id == template.organization_id


# --- update_plan ---------------------------------------------------------------------------


def test_update_plan_returns_only_real_changes(actor, plan):
    # When status, risk and a custom field change, and the title is given unchanged
    changes = services.update_plan(
        actor=actor,
        plan=plan,
        title=plan.title,
        status=PlanStatus.CLOSED,
        risk_status="high",
        custom_fields={"triage": "red"},
    )
    # Then the changes list old and new values of what really changed
    assert changes == {
        "status": ("OPEN", "CLOSED"),
        "risk_status": ("", "high"),
        "custom_fields.triage": (None, "red"),
    }
    plan.refresh_from_db()
    assert (plan.status, plan.risk_status, plan.custom_fields) == (
        "CLOSED",
        "high",
        {"triage": "red"},
    )


def test_update_plan_merges_and_clears_custom_fields(actor, plan):
    services.update_plan(actor=actor, plan=plan, custom_fields={"score": 1, "triage": "green"})
    changes = services.update_plan(actor=actor, plan=plan, custom_fields={"score": None})
    assert changes == {"custom_fields.score": (1, None)}
    plan.refresh_from_db()
    assert plan.custom_fields == {"triage": "green"}


def test_update_plan_refuses_unknown_status_and_bad_choice(actor, plan):
    with pytest.raises(ValidationError) as excinfo:
        services.update_plan(actor=actor, plan=plan, status="PAUSED")
    assert messages_of(excinfo) == {"status": ["Value 'PAUSED' is not a valid choice."]}
    with pytest.raises(ValidationError) as excinfo:
        services.update_plan(actor=actor, plan=plan, custom_fields={"triage": "blue"})
    assert messages_of(excinfo) == {
        "custom_fields": ["triage: Expected one of: green, amber, red."]
    }
    plan.refresh_from_db()
    assert plan.status == PlanStatus.OPEN


@pytest.mark.parametrize("change", [{"risk_status": "high"}, {"status": PlanStatus.CLOSED}])
def test_update_plan_reads_and_locks_the_plan_once(actor, plan, change):
    # Given a caller's plan object that another change has made stale
    Plan.objects.filter(pk=plan.pk).update(title="Renamed elsewhere")
    # When one attribute changes (in the test's transaction, the service's is a savepoint)
    with CaptureQueriesContext(connection) as statements:
        services.update_plan(actor=actor, plan=plan, **change)
    # Then the plan is read once, locked, with what its event says about it; no constraint is
    # checked that the change cannot break (the status's restates its choices, which
    # clean_fields checks); the row is updated and its event written
    sql = [statement["sql"] for statement in statements.captured_queries]
    assert [statement.split()[0] for statement in sql] == [
        "SAVEPOINT",
        "SELECT",
        "UPDATE",
        "WITH",  # the event and its place in the relay's queue, one statement
        "RELEASE",
    ]
    assert plan_reads(statements) == [sql[1]]
    assert "FOR UPDATE" in sql[1]
    assert re.search(r'INTO "?events_outboxevent"?\s', sql[3])
    assert re.search(r'INTO "?events_outboxpending"?\s', sql[3])
    # And the caller's object shows the row as it now is
    [(name, value)] = change.items()
    assert (plan.title, getattr(plan, name)) == ("Renamed elsewhere", value)


def test_update_plan_refuses_foreign_actor(other_actor, plan):
    with pytest.raises(ValidationError):
        services.update_plan(actor=other_actor, plan=plan, risk_status="high")


# --- assign_role / assign_form -------------------------------------------------------------


def test_assign_role_replaces_the_holder(actor, org, plan, template):
    second_nurse = make_user(org, "nurse2", "STAFF")
    nurse_role = template.roles.get(role_id="Nurse")
    services.assign_role(actor=actor, plan=plan, role=nurse_role, user=second_nurse)
    assert plan.role_assignments.get(role=nurse_role).user == second_nurse


def test_assign_role_refuses_role_of_another_template(actor, plan, other_template):
    with pytest.raises(ValidationError) as excinfo:
        services.assign_role(
            actor=actor, plan=plan, role=other_template.roles.first(), user=plan.user
        )
    assert "role" in messages_of(excinfo)


def test_assign_form_goes_to_the_role_holder_with_prefill(actor, plan, template, nurse):
    definition = template.form_assignment_definitions.get(
        form__name="intake", role__role_id="Nurse"
    )
    assignment = services.assign_form(
        actor=actor, plan=plan, definition=definition, prefill={"notes": "from triage"}
    )
    assert assignment.user == nurse
    assert assignment.prefill == {"notes": "from triage"}
    assert assignment.status == FormAssignmentStatus.ASSIGNED


def test_assign_form_refuses_wrong_prefill_and_missing_holder(actor, template, patient):
    plan = services.assign_plan(actor=actor, template=template, user=patient)  # no nurse
    nurse_intake = template.form_assignment_definitions.get(role__role_id="Nurse")
    with pytest.raises(ValidationError) as excinfo:
        services.assign_form(actor=actor, plan=plan, definition=nurse_intake)
    assert messages_of(excinfo) == {"definition": ["Nobody holds role Nurse in this plan."]}

    appointment = template.form_assignment_definitions.get(form__name="appointment")
    with pytest.raises(ValidationError) as excinfo:
        services.assign_form(actor=actor, plan=plan, definition=appointment, prefill={"slot": 9})
    assert messages_of(excinfo) == {"prefill": ["slot: Expected text."]}


def test_assign_form_refuses_closed_plan(actor, plan, template):
    services.update_plan(actor=actor, plan=plan, status=PlanStatus.CLOSED)
    appointment = template.form_assignment_definitions.get(form__name="appointment")
    with pytest.raises(ValidationError) as excinfo:
        services.assign_form(actor=actor, plan=plan, definition=appointment)
    assert messages_of(excinfo) == {"plan": [f"Plan {plan.pk} is CLOSED; only open plans change."]}


def test_assign_form_refuses_definition_of_another_organization(actor, plan, other_template):
    foreign = other_template.form_assignment_definitions.first()
    with pytest.raises(ValidationError) as excinfo:
        services.assign_form(actor=actor, plan=plan, definition=foreign)
    assert "definition" in messages_of(excinfo)


# --- submit_form ---------------------------------------------------------------------------


def intake_of(plan) -> FormAssignment:
    return plan.form_assignments.get(definition__form__name="intake")


def test_submit_form_stores_data_and_marks_submitted(actor, plan):
    assignment = intake_of(plan)
    data = {"age": 42, "symptoms": ["fever"], "notes": "since Monday"}
    submission = services.submit_form(actor=actor, assignment=assignment, data=data)
    assert submission.data == data
    assignment.refresh_from_db()
    assert assignment.status == FormAssignmentStatus.SUBMITTED


def test_services_that_emit_read_the_plan_once_locked(actor, plan, work_queue):
    # Given an assignment and an item as a caller has them (their plan not loaded)
    assignment = FormAssignment.objects.get(pk=intake_of(plan).pk)
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    item = WorkQueueItem.objects.get(pk=item.pk)
    # When each changes, and emits its event
    with CaptureQueriesContext(connection) as submitting:
        services.submit_form(actor=actor, assignment=assignment, data={"age": 42})
    with CaptureQueriesContext(connection) as moving:
        services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    # Then each read the plan once, locking it, and emit() did not read it again
    for statements in (submitting, moving):
        [read] = plan_reads(statements)
        assert "FOR UPDATE" in read


def test_submit_form_gives_an_error_per_field(actor, plan):
    # Given data with a missing required field, a wrong choice, and an unknown field
    with pytest.raises(ValidationError) as excinfo:
        services.submit_form(
            actor=actor,
            assignment=intake_of(plan),
            data={"symptoms": ["fever", "rash"], "notes": 7, "weight": 80},
        )
    # Then each field has its own message
    assert messages_of(excinfo) == {
        "age": ["This field is required."],
        "symptoms": ["Not allowed: rash. Allowed: fever, cough, pain."],
        "notes": ["Expected text."],
        "weight": ["Not a field of form intake."],
    }


def test_submit_form_refuses_a_second_submission(actor, plan):
    assignment = intake_of(plan)
    services.submit_form(actor=actor, assignment=assignment, data={"age": 1})
    with pytest.raises(ValidationError) as excinfo:
        services.submit_form(actor=actor, assignment=assignment, data={"age": 2})
    assert excinfo.value.messages == [f"Form assignment {assignment.pk} was already submitted."]


def test_submit_form_refuses_foreign_actor(other_actor, plan):
    with pytest.raises(ValidationError):
        services.submit_form(actor=other_actor, assignment=intake_of(plan), data={"age": 1})


# --- work queue items ----------------------------------------------------------------------


def test_create_work_queue_item_numbers_tickets_per_queue(actor, plan, work_queue, org):
    window = work_queue.service_locations.get(name="Window 1")
    first = services.create_work_queue_item(
        actor=actor, queue=work_queue, plan=plan, title="Blood test", service_location=window
    )
    second = services.create_work_queue_item(
        actor=actor, queue=work_queue, plan=plan, title="X-ray"
    )
    other_queue = make_work_queue(org, name="lab")
    elsewhere = services.create_work_queue_item(
        actor=actor, queue=other_queue, plan=plan, title="Swab"
    )
    assert (first.ticket_number, second.ticket_number, elsewhere.ticket_number) == (1, 2, 1)
    # The status defaults to the queue's first step
    assert first.status.status_id == "waiting"
    assert first.service_location == window


def test_create_work_queue_item_refusals(actor, plan, work_queue, org, other_work_queue):
    lab = make_work_queue(org, name="lab")
    lab_window = lab.service_locations.first()
    cases = [
        ({"service_location": lab_window}, "service_location"),
        ({"status": "archived"}, "status"),
        ({"queue_position": -1}, "queue_position"),
        ({"priority": "urgent"}, "priority"),
        ({"title": "  "}, "title"),
        ({"queue": other_work_queue}, "queue"),
    ]
    for overrides, field in cases:
        arguments = {"actor": actor, "queue": work_queue, "plan": plan, "title": "Test"}
        arguments.update(overrides)
        with pytest.raises(ValidationError) as excinfo:
            services.create_work_queue_item(**arguments)
        assert field in messages_of(excinfo), overrides
    assert not plan.work_queue_items.exists()


def test_change_status_keeps_the_old_one(actor, plan, work_queue):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    change = services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    assert (change.old_status.status_id, change.new_status.status_id) == ("waiting", "in_service")
    item.refresh_from_db()
    assert item.status.status_id == "in_service"
    history = WorkQueueItemStatusChange.objects.filter(item=item).order_by("changed_at", "id")
    assert [(h.old_status and h.old_status.status_id, h.new_status.status_id) for h in history] == [
        (None, "waiting"),
        ("waiting", "in_service"),
    ]
    # The same status again changes nothing
    assert (
        services.change_work_queue_item_status(actor=actor, item=item, status="in_service") is None
    )


def test_change_status_refuses_status_of_another_queue(actor, plan, work_queue, org):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    # A status object of another queue (even one with the same id) is refused, not swapped
    lab_done = make_work_queue(org, name="lab").statuses.get(status_id="done")
    with pytest.raises(ValidationError) as excinfo:
        services.change_work_queue_item_status(actor=actor, item=item, status=lab_done)
    assert messages_of(excinfo) == {
        "status": ["done is a status of another work queue, not of triage."]
    }
    # And so is a status id the queue does not have
    with pytest.raises(ValidationError) as excinfo:
        services.change_work_queue_item_status(actor=actor, item=item, status="closed")
    assert messages_of(excinfo) == {
        "status": [
            "closed is not a status of work queue triage. Allowed: waiting, in_service, done."
        ]
    }
    item.refresh_from_db()
    assert item.status.status_id == "waiting"


def test_update_work_queue_item(actor, plan, work_queue):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    window = work_queue.service_locations.get(name="Window 2")
    changes = services.update_work_queue_item(
        actor=actor, item=item, priority=5, service_location=window, queue_position=0
    )
    assert changes == {
        "priority": (0, 5),
        "service_location": (None, window),
        "queue_position": (None, 0),
    }
    assert services.update_work_queue_item(actor=actor, item=item, priority=5) == {}


def test_update_work_queue_item_refuses_foreign_location(actor, plan, work_queue, other_work_queue):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    with pytest.raises(ValidationError) as excinfo:
        services.update_work_queue_item(
            actor=actor, item=item, service_location=other_work_queue.service_locations.first()
        )
    assert "service_location" in messages_of(excinfo)


# --- refusals, each with its message -------------------------------------------------------

FOREIGN_ACTOR = ["The acting user does not belong to this organization."]


def test_every_service_refuses_an_actor_of_another_organization(other_actor, plan, work_queue):
    item = services.create_work_queue_item(
        actor=plan.created_by, queue=work_queue, plan=plan, title="T"
    )
    calls = [
        lambda: services.update_plan(actor=other_actor, plan=plan, risk_status="high"),
        lambda: services.submit_form(
            actor=other_actor, assignment=intake_of(plan), data={"age": 1}
        ),
        lambda: services.create_work_queue_item(
            actor=other_actor, queue=work_queue, plan=plan, title="T"
        ),
        lambda: services.change_work_queue_item_status(actor=other_actor, item=item, status="done"),
        lambda: services.update_work_queue_item(actor=other_actor, item=item, priority=1),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as excinfo:
            call()
        assert excinfo.value.messages == FOREIGN_ACTOR


def test_an_inactive_actor_is_refused(actor, plan):
    actor.is_active = False
    actor.save()
    with pytest.raises(ValidationError) as excinfo:
        services.update_plan(actor=actor, plan=plan, risk_status="high")
    assert excinfo.value.messages == ["The acting user is inactive."]


def test_update_plan_refuses_an_end_before_the_start(actor, plan):
    with pytest.raises(ValidationError) as excinfo:
        services.update_plan(actor=actor, plan=plan, end_date=plan.start_date - timedelta(hours=1))
    assert excinfo.value.messages == ["endDate cannot be before startDate."]


def test_assign_role_refusals(actor, plan, template, patient, other_patient):
    nurse_role = template.roles.get(role_id="Nurse")
    with pytest.raises(ValidationError) as excinfo:
        services.assign_role(actor=actor, plan=plan, role=nurse_role, user=patient)
    assert messages_of(excinfo) == {"user": ["Role Nurse may be held by STAFF users, not USER."]}
    with pytest.raises(ValidationError) as excinfo:
        services.assign_role(actor=actor, plan=plan, role=nurse_role, user=other_patient)
    assert messages_of(excinfo) == {"user": ["other-patient belongs to another organization."]}
    services.update_plan(actor=actor, plan=plan, status=PlanStatus.CLOSED)
    with pytest.raises(ValidationError) as excinfo:
        services.assign_role(actor=actor, plan=plan, role=nurse_role, user=plan.user)
    assert messages_of(excinfo) == {"plan": [f"Plan {plan.pk} is CLOSED; only open plans change."]}


def test_assign_form_refuses_a_definition_of_another_template(actor, plan, org):
    second = make_template(org, name="second")
    definition = second.form_assignment_definitions.get(form__name="appointment")
    with pytest.raises(ValidationError) as excinfo:
        services.assign_form(actor=actor, plan=plan, definition=definition)
    assert messages_of(excinfo) == {
        "definition": ["appointment → Patient is not a form assignment of template sAI-ERComp."]
    }


def test_submit_form_refuses_closed_plan_and_non_object_data(actor, plan):
    with pytest.raises(ValidationError) as excinfo:
        services.submit_form(actor=actor, assignment=intake_of(plan), data=["age", 3])
    assert excinfo.value.messages == ["Form data must be an object of field values."]
    services.update_plan(actor=actor, plan=plan, status=PlanStatus.CLOSED)
    with pytest.raises(ValidationError) as excinfo:
        services.submit_form(actor=actor, assignment=intake_of(plan), data={"age": 3})
    assert messages_of(excinfo) == {"plan": [f"Plan {plan.pk} is CLOSED; only open plans change."]}


def test_create_work_queue_item_refuses_closed_plan_and_empty_queue(actor, plan, org, work_queue):
    empty = WorkQueue.objects.create(organization=org, name="empty")
    with pytest.raises(ValidationError) as excinfo:
        services.create_work_queue_item(actor=actor, queue=empty, plan=plan, title="T")
    assert messages_of(excinfo) == {"queue": ["Work queue empty has no statuses yet."]}
    services.update_plan(actor=actor, plan=plan, status=PlanStatus.CLOSED)
    with pytest.raises(ValidationError) as excinfo:
        services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    assert messages_of(excinfo) == {"plan": [f"Plan {plan.pk} is CLOSED; only open plans change."]}


def test_out_of_range_numbers_are_validation_errors(actor, plan, work_queue):
    # PostgreSQL's integer is 32 bits; beyond it must be a field error, not a server error
    with pytest.raises(ValidationError) as excinfo:
        services.create_work_queue_item(
            actor=actor, queue=work_queue, plan=plan, title="T", priority=99_999_999_999
        )
    assert messages_of(excinfo) == {
        "priority": ["Ensure this value is less than or equal to 2147483647."]
    }
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    with pytest.raises(ValidationError) as excinfo:
        services.update_work_queue_item(actor=actor, item=item, queue_position=3_000_000_000)
    assert messages_of(excinfo) == {
        "queue_position": ["Ensure this value is less than or equal to 2147483647."]
    }
    with pytest.raises(ValidationError) as excinfo:
        services.update_work_queue_item(actor=actor, item=item, priority=True)
    assert messages_of(excinfo) == {"priority": ["Give a whole number."]}


def test_a_closed_plans_items_can_still_be_worked(actor, plan, work_queue):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="T")
    services.update_plan(actor=actor, plan=plan, status=PlanStatus.CLOSED)
    change = services.change_work_queue_item_status(actor=actor, item=item, status="done")
    assert change.new_status.status_id == "done"


@pytest.mark.django_db(transaction=True)
def test_ticket_numbers_stay_unique_under_concurrent_creation(actor, plan, work_queue):
    # Given two threads, each with its own database connection, adding items to one queue
    errors = []

    def add_items() -> None:
        try:
            for number in range(10):
                services.create_work_queue_item(
                    actor=actor, queue=work_queue, plan=plan, title=f"Item {number}"
                )
        except Exception as error:  # the assertion below reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=add_items) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every item got its own ticket, numbered 1 to 20 without gaps
    assert errors == []
    tickets = sorted(work_queue.items.values_list("ticket_number", flat=True))
    assert tickets == list(range(1, 21))
