"""One trace id tells the whole story in the logs of every process it went through.

Real processes: `manage.py consume_bus` (inbound consumer and webhook fan-out),
`manage.py relay_events`, a Celery worker, nats-server, PostgreSQL and a loopback receiver. A
scheduling system publishes a time slot with a known trace id; the demo rule fires, its
planUpdated goes out, a webhook delivers it. Then each process's log, JSON lines, is searched
for that trace id.
"""

import json
import uuid
from pathlib import Path

import pytest

from dev.demo import create_demo_rules
from events.models import OutboxEvent
from events.types import EventType
from integrations.models import DeliveryStatus, InboundEvent, WebhookDelivery
from integrations.webhooks.services import ALL
from rules.models import RuleEvaluation
from tests.fixtures.integrations import post_json
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import make_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _json_logs(monkeypatch):
    """Every process started by the test logs JSON lines, whatever the caller's terminal."""
    monkeypatch.setenv("LOG_FORMAT", "json")


def lines_of(log: Path, trace_id: str) -> list[dict]:
    """The JSON log lines of `log` about `trace_id` (other output, like banners, skipped)."""
    found = []
    for text in log.read_text().splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("traceId") == trace_id:
            found.append(line)
    return found


def one(lines: list[dict], message_start: str, **fields) -> dict:
    """The line whose message starts with `message_start`, asserting it has `fields`."""
    matching = [line for line in lines if line["message"].startswith(message_start)]
    assert matching, f"no {message_start!r} among {[line['message'] for line in lines]}"
    line = matching[0]
    assert {name: line.get(name) for name in fields} == fields, line
    return line


def test_one_trace_id_follows_an_inbound_event_through_every_process(
    org, template, plan, receiver, webhook_settings, webhook_pipeline, webhook_worker, publish
):
    relay, consume_bus = webhook_pipeline
    create_demo_rules(template)
    make_integration(org, receiver.url(), subscriptions={EventType.PLAN_UPDATED: ALL})
    trace_id = uuid.uuid4().hex
    # When the scheduling system publishes a slot on NATS with its trace id
    payload = {"planId": str(plan.pk), "timeSlot": "2026-12-01T09:30"}
    publish("hrh", "aiEngineTimeSlot", payload, headers={"Healix-Trace-Id": trace_id})
    # And the rule's planUpdated reaches the partner's webhook
    wait_until(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists())
    inbound = InboundEvent.objects.get()
    updated = OutboxEvent.objects.get(event_type="planUpdated")
    delivery = WebhookDelivery.objects.get()
    evaluation = RuleEvaluation.objects.get()
    rule_id = evaluation.fired_rules[0]
    ids = {"orgId": "hrh", "traceId": trace_id}
    about_inbound = {**ids, "inboundEventId": str(inbound.pk)}
    about_event = {**ids, "eventId": str(updated.event_id)}
    about_delivery = {**about_event, "deliveryId": str(delivery.pk)}
    # Then the bus logged the inbound event accepted, and the webhook delivery queued
    bus = lines_of(consume_bus.log, trace_id)
    one(bus, "Inbound event accepted", **about_inbound, source="nats")
    one(bus, "Webhook delivery queued", **about_delivery)
    # And the worker the hand-off, the evaluation, the fired row and its actions, the system
    # event it wrote, and the delivery attempt with its outcome
    wait_until(lambda: "Webhook attempt" in webhook_worker.log.read_text())
    worker = lines_of(webhook_worker.log, trace_id)
    one(worker, "Inbound event handed to the rules", **about_inbound)
    one(worker, "Rules evaluated", **about_inbound, planId=str(plan.pk), firedRules=[rule_id])
    one(worker, "Rule fired", **about_inbound, ruleId=rule_id, evaluationId=evaluation.pk)
    actions = [line for line in worker if line["message"].startswith("Rule action done")]
    assert len(actions) == len(evaluation.actions) == 2, worker
    one(worker, "System event written: planUpdated", **about_event, planId=str(plan.pk))
    one(worker, "Webhook attempt 1: succeeded", **about_delivery, statusCode=200)
    # And the relay the event published
    one(lines_of(relay.log, trace_id), "System event published", **about_event)
    # And no line of any process holds the payload
    for process in (relay, consume_bus, webhook_worker):
        assert "2026-12-01T09:30" not in process.log.read_text()


def test_the_rules_run_for_a_rest_event_under_the_request_trace(
    org, template, plan, api, celery_worker
):
    create_demo_rules(template)
    trace_id = uuid.uuid4().hex
    # When a partner posts the slot over REST with its trace id
    payload = {"planId": str(plan.pk), "timeSlot": "2026-12-01T10:00"}
    answer = post_json(api, "aiEngineTimeSlot", payload, HTTP_X_TRACE_ID=trace_id)
    assert answer.status_code == 202
    # Then the worker's lines about the event carry the request's trace id and organization.
    # (The batcher of rules/inbound_batching.py queues one task for the events of many
    # requests, so Celery's own line about that task names no single trace:
    # tests/healix/test_logcontext.py covers the header that carries a context into a task
    # queued for one request.)
    wait_until(lambda: "succeeded" in celery_worker.log.read_text())
    worker = lines_of(celery_worker.log, trace_id)
    inbound_event_id = answer.json()["id"]
    one(worker, "Inbound event handed to the rules", orgId="hrh", inboundEventId=inbound_event_id)
    one(worker, "Rule fired", orgId="hrh", inboundEventId=inbound_event_id)
