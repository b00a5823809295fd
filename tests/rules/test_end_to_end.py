"""The seed's example with real processes: nats-server, `manage.py consume_bus`, a Celery
worker and PostgreSQL. A scheduling system publishes a time slot; the rule gives the patient
the appointment form prefilled with the slot and sets the plan's risk status. On both Celery
brokers: kombu's filesystem transport and RabbitMQ."""

import json
import uuid

import pytest

from events.models import OutboxEvent
from integrations.models import InboundEvent
from plans.models import FormAssignment
from rules.models import RuleEvaluation
from tests.fixtures.broker import both_brokers
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.e2e


@both_brokers
def test_a_published_time_slot_assigns_the_prefilled_appointment_form(
    demo_rules, plan, celery_broker, celery_worker, start_consume_bus, publish
):
    start_consume_bus()
    trace_id = uuid.uuid4().hex
    payload = {"planId": str(plan.pk), "timeSlot": "2026-12-01T09:30"}
    # When the scheduling system publishes a slot on NATS
    publish("hrh", "aiEngineTimeSlot", payload, headers={"Healix-Trace-Id": trace_id})
    # Then the patient gets the appointment form, prefilled with the slot
    wait_until(lambda: FormAssignment.objects.filter(definition__form__name="appointment").exists())
    assignment = FormAssignment.objects.get(definition__form__name="appointment")
    assert (assignment.user, assignment.prefill) == (plan.user, {"slot": "2026-12-01T09:30"})
    plan.refresh_from_db()
    assert plan.risk_status == "scheduled"
    # And the planUpdated event and the evaluation record carry the message's trace id
    updated = OutboxEvent.objects.get(event_type="planUpdated")
    assert updated.trace_id == trace_id
    assert json.loads(updated.payload)["traceId"] == trace_id
    evaluation = RuleEvaluation.objects.get()
    assert (evaluation.trace_id, evaluation.fired_rules) == (
        trace_id,
        [demo_rules.rules.get().pk],
    )
    # When the same payload is published again
    publish("hrh", "aiEngineTimeSlot", payload, headers={"Healix-Trace-Id": uuid.uuid4().hex})
    wait_until(lambda: InboundEvent.objects.get().duplicate_count == 1)
    wait_until(celery_broker.queue_is_empty)
    # Then nothing changed and nothing was evaluated
    assert RuleEvaluation.objects.count() == 1
    assert FormAssignment.objects.filter(definition__form__name="appointment").count() == 1
    assert OutboxEvent.objects.filter(event_type="planUpdated").count() == 1
