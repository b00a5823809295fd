"""Webhooks through the real processes: a service call, the relay, the healix-webhooks
consumer of consume_bus, a real Celery worker, and a real HTTP receiver on loopback. The
retries (countdown tasks) and a worker's death run on both brokers: kombu's filesystem
transport and RabbitMQ (tests/fixtures/broker.py)."""

import signal
import threading

import pytest
from standardwebhooks import Webhook

from events.types import EventType
from integrations.models import AttemptOutcome, DeliveryStatus, WebhookDelivery
from integrations.webhooks import delivery
from integrations.webhooks.services import ALL, send_test_event
from plans import services
from tests.fixtures.broker import both_brokers, task_ids, unfinished_task_ids
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import Reply, make_integration

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_plan_created_reaches_the_partner_signed(
    org, other_org, actor, patient, template, other_template, other_actor, other_patient,
    receiver, other_receiver, webhook_settings, webhook_pipeline, webhook_worker,
):  # fmt: skip
    # Given an integration of each organization, both wanting every plan created
    _mine, secret = make_integration(
        org, receiver.url(), subscriptions={EventType.PLAN_CREATED: ALL}
    )
    make_integration(other_org, other_receiver.url(), subscriptions={EventType.PLAN_CREATED: ALL})
    # When hrh assigns a plan (and the other organization assigns one)
    plan = services.assign_plan(actor=actor, template=template, user=patient)
    services.assign_plan(actor=other_actor, template=other_template, user=other_patient)
    # Then each receiver gets its own organization's event, and the signature verifies
    wait_until(lambda: receiver.received and other_receiver.received)
    event = Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert event["info"]["planId"] == str(plan.pk)
    assert event["messageType"] == "healix.hrh.planCreated"
    assert other_receiver.received[0].json()["orgId"] == "other"
    wait_until(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2)
    assert len(receiver.received) == len(other_receiver.received) == 1


@both_brokers
def test_failing_twice_then_succeeding_takes_three_recorded_attempts(
    org, receiver, webhook_settings, webhook_worker
):
    # Given a receiver that fails twice (the test schedule retries after 0.2 s)
    receiver.replies.extend([Reply(500, body=b"down"), Reply(503)])
    integration, secret = make_integration(org, receiver.url())
    # When a delivery is queued for the worker
    sent = send_test_event(integration)
    # Then it succeeds on the third attempt, all three on record, one webhook-id throughout
    wait_until(lambda: WebhookDelivery.objects.get(pk=sent.pk).status == DeliveryStatus.SUCCEEDED)
    attempts = list(sent.attempts.values_list("number", "status_code", "outcome"))
    assert attempts == [(1, 500, "retry"), (2, 503, "retry"), (3, 200, "succeeded")]
    assert {r.headers["webhook-id"] for r in receiver.received} == {str(sent.event_id)}
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)


@both_brokers
def test_a_worker_killed_mid_delivery_delivers_afterwards_with_the_same_id(
    org, receiver, webhook_settings, celery_broker, start_webhook_worker
):
    # Given a worker in the middle of a request (the receiver holds it)
    held = threading.Event()
    receiver.replies.append(Reply(200, hold=held))
    integration, secret = make_integration(org, receiver.url())
    worker = start_webhook_worker()
    sent = send_test_event(integration)
    wait_until(lambda: len(receiver.received) == 1)
    # When the worker is killed with SIGKILL
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    held.set()
    # And a new worker runs, with beat's sweep (played here) queueing the delivery again once
    # its lease ran out
    successor = start_webhook_worker()
    if celery_broker.name == "amqp":
        # RabbitMQ gives the killed worker's unacknowledged task to the new one: it finds the
        # delivery leased (and leaves it to the sweep) or its lease already run out (and
        # sends it). The filesystem transport had handed the task over for good.
        lost = unfinished_task_ids(worker.log)
        assert len(lost) == 1
        wait_until(lambda: lost <= set(task_ids(successor.log, "celery.app.trace")))

    def succeeded() -> bool:
        return WebhookDelivery.objects.get(pk=sent.pk).status == DeliveryStatus.SUCCEEDED

    wait_until(lambda: delivery.sweep() > 0 or succeeded())
    # Then the delivery succeeds, with the same webhook-id, and the lost attempt is recorded
    wait_until(succeeded)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [str(sent.event_id)] * 2
    outcomes = list(sent.attempts.values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.INTERRUPTED, AttemptOutcome.SUCCEEDED]
    Webhook(secret).verify(receiver.received[1].body, receiver.received[1].headers)


def test_the_worker_disables_an_integration_answering_410(
    org, receiver, webhook_settings, webhook_worker
):
    receiver.replies.append(Reply(410))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=sent.pk).update(event_type="planCreated")  # a real type
    from integrations.webhooks.delivery import queue_deliveries

    queue_deliveries([sent.pk])
    wait_until(lambda: WebhookDelivery.objects.get(pk=sent.pk).status == DeliveryStatus.FAILED)
    integration.refresh_from_db()
    assert not integration.is_active
    assert integration.events.get().kind == "disabled"


def test_a_timeout_in_the_worker_is_a_failure_then_a_retry(
    org, receiver, webhook_settings, webhook_worker
):
    # Given a receiver that holds the first request past the total timeout (2 s in tests)
    held = threading.Event()
    receiver.replies.append(Reply(200, hold=held))
    integration, _secret = make_integration(org, receiver.url())
    try:
        sent = send_test_event(integration)
        wait_until(lambda: sent.attempts.exists())
    finally:
        held.set()
    # Then the worker recorded a timeout and succeeded on the retry
    wait_until(lambda: WebhookDelivery.objects.get(pk=sent.pk).status == DeliveryStatus.SUCCEEDED)
    first, second = sent.attempts.order_by("number")
    assert (first.outcome, first.status_code) == ("retry", None)
    assert "Timeout" in first.error
    assert second.outcome == "succeeded"
