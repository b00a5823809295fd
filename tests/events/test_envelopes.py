"""The envelope of each event type, pinned key for key (snapshots), as the services emit it."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from events import EventType, outbox
from events.contract import envelope_errors
from events.models import OutboxEvent
from healix.observability.tracing import trace
from plans import services
from plans.models import PlanStatus
from tests.fixtures.domain import make_user

pytestmark = pytest.mark.django_db

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UUID_SHAPE = "00000000-0000-0000-0000-000000000000"


def shape(envelope: dict) -> dict:
    """The envelope with the values that differ per run (ids, times) masked."""
    masked = json.loads(json.dumps(envelope))
    masked["eventId"] = UUID_SHAPE if uuid.UUID(masked["eventId"]) else None
    assert masked["occurredAt"].endswith("Z")
    masked["occurredAt"] = "<rfc3339>"
    return masked


def only_event(event_type: str) -> tuple[OutboxEvent, dict]:
    row = OutboxEvent.objects.get(event_type=event_type)
    return row, json.loads(row.payload)


def test_plan_created_envelope(actor, template, patient, nurse, settings):
    # Given a branch name and a trace id at the edge
    settings.HEALIX_BRANCH = "staging"
    # When a plan is assigned under that trace
    with trace(TRACE):
        plan = services.assign_plan(
            actor=actor, template=template, user=patient, role_assignments={"Nurse": nurse}
        )
    # Then one planCreated row holds exactly the seed's envelope
    row, envelope = only_event("planCreated")
    assert shape(envelope) == {
        "messageType": "healix.hrh.planCreated",
        "orgId": "hrh",
        "requestedBy": str(actor.pk),
        "traceId": TRACE,
        "branch": "staging",
        "eventId": UUID_SHAPE,
        "occurredAt": "<rfc3339>",
        "info": {
            "planId": str(plan.pk),
            "isTest": False,
            "templateName": "sAI-ERComp",
            "userId": str(patient.pk),
            "roleAssignments": [
                {"roleId": "Nurse", "userId": str(nurse.pk)},
                {"roleId": "Patient", "userId": str(patient.pk)},
            ],
        },
    }
    # And the row's columns say the same as the envelope
    assert list(envelope) == [
        "messageType", "orgId", "requestedBy", "traceId", "branch", "eventId", "occurredAt", "info"
    ]  # fmt: skip
    assert (row.subject, str(row.event_id), row.trace_id) == (
        "healix.hrh.planCreated",
        envelope["eventId"],
        TRACE,
    )
    assert (row.plan_id, row.organization_id) == (plan.pk, plan.organization_id)
    assert row.pending.attempts == 0 and not hasattr(row, "publication")  # the relay's to do
    assert datetime.fromisoformat(envelope["occurredAt"]) == row.occurred_at.astimezone(UTC)


def test_plan_updated_envelope_lists_changes_in_camel_case(actor, plan):
    # When status, risk, end date and two custom fields change (and the title, which is not
    # part of the event)
    end = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    services.update_plan(actor=actor, plan=plan, custom_fields={"score": 2})
    services.update_plan(
        actor=actor,
        plan=plan,
        title="Renamed",
        status=PlanStatus.CLOSED,
        risk_status="high",
        end_date=end,
        custom_fields={"score": None, "triage": "red"},
    )
    # Then the second planUpdated names each visible change with its old and new value
    envelopes = [
        json.loads(p)
        for p in OutboxEvent.objects.filter(event_type="planUpdated")
        .order_by("id")
        .values_list("payload", flat=True)
    ]
    assert len(envelopes) == 2
    assert shape(envelopes[1])["info"] == {
        "planId": str(plan.pk),
        "isTest": False,
        "changes": [
            {"field": "status", "old": "OPEN", "new": "CLOSED"},
            {"field": "riskStatus", "old": None, "new": "high"},
            {"field": "endDate", "old": None, "new": "2026-12-31T12:00:00.000000Z"},
            {"field": "customFields.score", "old": 2, "new": None},
            {"field": "customFields.triage", "old": None, "new": "red"},
        ],
    }
    assert set(envelopes[1]) == set(envelopes[0]) == {
        "messageType", "orgId", "requestedBy", "traceId", "branch", "eventId", "occurredAt", "info"
    }  # fmt: skip


def test_plan_updated_is_not_emitted_without_a_visible_change(actor, plan):
    # When only the title changes, or nothing does
    services.update_plan(actor=actor, plan=plan, title="Only the title")
    services.update_plan(actor=actor, plan=plan, risk_status=plan.risk_status)
    # Then no planUpdated is written
    assert not OutboxEvent.objects.filter(event_type="planUpdated").exists()


def test_form_submitted_envelope(actor, plan, patient):
    assignment = plan.form_assignments.get(definition__form__name="intake")
    services.submit_form(
        actor=patient, assignment=assignment, data={"age": 54, "symptoms": ["pain"]}
    )
    _row, envelope = only_event("formSubmitted")
    assert shape(envelope)["info"] == {
        "planId": str(plan.pk),
        "isTest": False,
        "formName": "intake",
        "formAssignmentId": str(assignment.pk),
        "data": {"age": 54, "symptoms": ["pain"]},
    }
    assert envelope["requestedBy"] == str(patient.pk)  # the person who submitted


def test_work_queue_item_status_updated_envelope(actor, plan, work_queue):
    window = work_queue.service_locations.get(name="Window 2")
    item = services.create_work_queue_item(
        actor=actor, queue=work_queue, plan=plan, title="X-ray", priority=3, service_location=window
    )
    # Creating the item sets its first status: that is no status change, so no event
    assert not OutboxEvent.objects.filter(event_type="workQueueItemStatusUpdated").exists()
    services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    _row, envelope = only_event("workQueueItemStatusUpdated")
    assert shape(envelope)["info"] == {
        "planId": str(plan.pk),
        "isTest": False,
        "workQueueName": "triage",
        "workQueueItemId": str(item.pk),
        "status": "in_service",
        "oldStatus": "waiting",
        "priority": 3,
        "serviceLocation": "Window 2",
    }
    assert envelope["messageType"] == "healix.hrh.workQueueItemStatusUpdated"


def test_unchanged_status_emits_nothing_and_no_location_is_null(actor, plan, work_queue):
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="Lab")
    services.change_work_queue_item_status(actor=actor, item=item, status="waiting")
    assert not OutboxEvent.objects.filter(event_type="workQueueItemStatusUpdated").exists()
    services.change_work_queue_item_status(actor=actor, item=item, status="done")
    _row, envelope = only_event("workQueueItemStatusUpdated")
    assert envelope["info"]["serviceLocation"] is None


def test_is_test_follows_the_plans_person(actor, template, org):
    tester = make_user(org, "test-person", is_test=True)
    services.assign_plan(actor=actor, template=template, user=tester)
    _row, envelope = only_event("planCreated")
    assert envelope["info"]["isTest"] is True


def test_plan_updated_names_the_organization_and_the_test_person(actor, template, org):
    # update_plan hands emit() what it read when it locked the plan
    tester = make_user(org, "test-person", is_test=True)
    plan = services.assign_plan(actor=actor, template=template, user=tester)
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    row, envelope = only_event("planUpdated")
    assert (envelope["orgId"], envelope["info"]["isTest"]) == ("hrh", True)
    assert (row.organization_id, row.subject) == (org.pk, "healix.hrh.planUpdated")


def test_emit_returns_the_row_as_stored(actor, plan):
    with transaction.atomic():
        row = outbox.emit(
            EventType.PLAN_UPDATED, actor=actor, plan=plan, changes={"risk_status": ("", "high")}
        )
    stored = OutboxEvent.objects.get(pk=row.pk)
    fields = [field.attname for field in OutboxEvent._meta.concrete_fields]
    assert [getattr(row, name) for name in fields] == [getattr(stored, name) for name in fields]
    assert stored.transaction_id > 0 and not row._state.adding


def test_an_event_without_trace_gets_a_new_trace_id_each_time(actor, plan, emitted_events):
    # Given no trace id at the edge (the plan fixture's planCreated is the first event)
    services.update_plan(actor=actor, plan=plan, risk_status="low")
    first, second = emitted_events
    assert len(first["traceId"]) == 32 and first["traceId"] != second["traceId"]


def test_a_refused_change_emits_nothing(actor, plan):
    before = OutboxEvent.objects.count()
    with pytest.raises(ValidationError):
        services.update_plan(actor=actor, plan=plan, status="PAUSED")
    assert OutboxEvent.objects.count() == before


def test_schema_check_catches_a_broken_envelope(actor, plan, emitted_events):
    # The guard itself must be able to fail: a missing key, an extra key, a wrong orgId
    envelope = json.loads(json.dumps(emitted_events[0]))
    assert envelope_errors(envelope) == []
    del envelope["info"]["templateName"]
    envelope["info"]["extra"] = 1
    envelope["orgId"] = "other"
    errors = envelope_errors(envelope)
    assert any("templateName" in error for error in errors)
    assert any("extra" in error for error in errors)
    assert any("does not match orgId" in error for error in errors)


def test_a_change_whose_event_would_be_too_big_for_the_bus_is_refused(actor, plan):
    # Given a form submission whose data alone is bigger than the bus takes in one message
    from events.outbox import MAX_EVENT_BYTES

    assignment = plan.form_assignments.get(definition__form__name="intake")
    before = OutboxEvent.objects.count()
    # When it is submitted
    with pytest.raises(ValidationError) as excinfo:
        services.submit_form(
            actor=actor, assignment=assignment, data={"age": 3, "notes": "x" * MAX_EVENT_BYTES}
        )
    # Then the service refuses it, saying why, and neither the submission nor an event exists
    assert "the bus takes at most 524288" in excinfo.value.messages[0]
    assignment.refresh_from_db()
    assert assignment.status == "ASSIGNED"
    assert OutboxEvent.objects.count() == before
