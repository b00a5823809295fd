"""Evaluation, actions and the audit trail, in process against the real database."""

import json

import pytest

from events.models import OutboxEvent
from integrations.models import InboundEvent, InboundSource, InboundStatus
from plans.models import FormAssignment
from rules import services
from rules.models import RuleEvaluation

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
    assert services.evaluate_inbound_events([event.pk]) == 1
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
    assert [row["fired"] for row in evaluation.rows] == [True]
    assert [action["ok"] for action in evaluation.actions] == [True, True]
    # And planUpdated carries the trace id too
    updated = OutboxEvent.objects.filter(event_type="planUpdated").latest("id")
    assert updated.trace_id == "trace-slot-1"
    assert json.loads(updated.payload)["traceId"] == "trace-slot-1"
    # When the same event is handed over again, nothing more happens
    assert services.evaluate_inbound_events([event.pk]) == 0
    assert FormAssignment.objects.filter(definition__form__name="appointment").count() == 1
