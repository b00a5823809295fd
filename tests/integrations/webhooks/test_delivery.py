"""Delivery against real HTTP receivers on loopback, the service called in this process:
the request (signed, with every header), what an attempt records, secret rotation, timeouts,
410, Retry-After, continuous failure, and the lease that makes a task safe to run twice."""

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from integrations.models import (
    AttemptOutcome,
    DeliveryStatus,
    HttpIntegrationEvent,
    IntegrationEventKind,
    WebhookDelivery,
)
from integrations.webhooks import delivery
from integrations.webhooks.services import (
    replay_failed_since,
    retry_delivery,
    rotate_secret,
    send_test_event,
)
from tests.fixtures.webhooks import Reply, make_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch, webhook_settings):
    """Tasks run here, by the test: queueing records what would have been queued."""
    queued = []
    monkeypatch.setattr(
        delivery, "queue_deliveries", lambda ids, countdown=None: queued.extend(ids)
    )
    return queued


def send_now(sent: WebhookDelivery) -> WebhookDelivery:
    delivery.deliver([str(sent.pk)])
    sent.refresh_from_db()
    return sent


def test_a_delivery_is_posted_signed_with_every_header(org, receiver):
    # Given an integration with a custom header
    integration, secret = make_integration(
        org, receiver.url(), custom_headers={"X-Partner-Key": "k-123"}
    )
    # When a test event is delivered
    sent = send_now(send_test_event(integration))
    # Then the receiver verified the signature with the standardwebhooks library
    request = receiver.received[0]
    assert Webhook(secret).verify(request.body, request.headers)["eventId"] == str(sent.event_id)
    assert request.headers["webhook-id"] == str(sent.event_id)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Healix-Webhooks/")
    assert request.headers["healix-trace-id"] == sent.trace_id
    assert request.headers["x-partner-key"] == "k-123"
    assert request.body.decode() == sent.payload
    # And the delivery succeeded with one attempt recorded
    attempt = sent.attempts.get()
    assert sent.status == DeliveryStatus.SUCCEEDED
    assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "succeeded")
    assert attempt.duration_ms is not None and attempt.response_body == "ok"


def test_an_attempt_keeps_headers_and_4_kib_of_the_body(org, receiver):
    receiver.replies.append(Reply(500, headers={"X-Why": "broken"}, body=b"e" * 10_000))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_now(send_test_event(integration))
    attempt = sent.attempts.get()
    assert attempt.status_code == 500
    assert attempt.response_headers["X-Why"] == "broken"
    assert attempt.response_body == "e" * 4096
    assert attempt.outcome == AttemptOutcome.RETRY
    assert sent.status == DeliveryStatus.PENDING and sent.next_attempt_at > timezone.now()


def test_after_a_rotation_both_secrets_verify_during_the_overlap(org, receiver):
    integration, old = make_integration(org, receiver.url())
    new = rotate_secret(integration)
    send_now(send_test_event(integration))
    request = receiver.received[0]
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)
    assert HttpIntegrationEvent.objects.filter(kind=IntegrationEventKind.SECRET_ROTATED).exists()


def test_after_the_overlap_only_the_new_secret_signs(org, receiver):
    integration, old = make_integration(org, receiver.url())
    new = rotate_secret(integration)
    integration.refresh_from_db()
    integration.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    integration.save()
    send_now(send_test_event(integration))
    request = receiver.received[0]
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(request.body, request.headers)


def test_a_timeout_is_a_failure_not_a_hang(org, receiver, webhook_settings):
    # Given a receiver that answers after the total timeout (2 s in tests)
    release = threading.Event()
    receiver.replies.append(Reply(200, hold=release))
    integration, _secret = make_integration(org, receiver.url())
    try:
        sent = send_now(send_test_event(integration))
    finally:
        release.set()
    attempt = sent.attempts.get()
    assert attempt.outcome == AttemptOutcome.RETRY
    assert attempt.status_code is None and "Timeout" in attempt.error
    assert sent.status == DeliveryStatus.PENDING


def test_redirects_are_not_followed(org, receiver):
    receiver.replies.append(Reply(302, headers={"Location": receiver.url("/elsewhere")}))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_now(send_test_event(integration))
    assert [r.path for r in receiver.received] == ["/hook"]
    assert sent.attempts.get().status_code == 302
    assert sent.status == DeliveryStatus.PENDING


def test_410_disables_the_integration_and_records_why(org, receiver):
    receiver.replies.append(Reply(410))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_now(delivery_for(integration))
    integration.refresh_from_db()
    assert sent.status == DeliveryStatus.FAILED
    assert sent.attempts.get().outcome == AttemptOutcome.DISABLED
    assert not integration.is_active and "410" in integration.disabled_reason
    assert integration.events.get().kind == IntegrationEventKind.DISABLED


def delivery_for(integration) -> WebhookDelivery:
    """A delivery of a real (non-test) event type."""
    sent = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=sent.pk).update(event_type="planCreated")
    sent.refresh_from_db()
    return sent


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(org, receiver, status, _no_queue):
    receiver.replies.append(Reply(status, headers={"Retry-After": "7"}))
    integration, _secret = make_integration(org, receiver.url())
    before = timezone.now()
    sent = send_now(send_test_event(integration))
    # The schedule's first step is 0.2 s in tests; Retry-After asks for 7 s
    assert sent.next_attempt_at >= before + timedelta(seconds=7)
    assert sent.attempts.get().outcome == AttemptOutcome.RETRY


def test_failing_for_the_disable_period_disables(org, receiver, webhook_settings):
    # Given an integration failing since longer than the (test) disable period
    webhook_settings.HEALIX_WEBHOOK_DISABLE_AFTER_SECONDS = 60
    receiver.replies.append(Reply(500))
    integration, _secret = make_integration(org, receiver.url())
    integration.failing_since = timezone.now() - timedelta(seconds=61)
    integration.save()
    # When one more attempt fails
    send_now(delivery_for(integration))
    # Then it is disabled, and the operational event says why
    integration.refresh_from_db()
    assert not integration.is_active
    assert "Every attempt failed since" in integration.events.get().detail


def test_a_success_ends_a_failure_streak(org, receiver):
    integration, _secret = make_integration(org, receiver.url())
    integration.failing_since = timezone.now() - timedelta(days=1)
    integration.save()
    send_now(delivery_for(integration))
    integration.refresh_from_db()
    assert integration.failing_since is None and integration.is_active


def test_a_delivery_runs_once_however_often_its_task_runs(org, receiver):
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    assert delivery.deliver([str(sent.pk)]) == 1
    assert delivery.deliver([str(sent.pk)]) == 0  # succeeded: nothing to do
    assert len(receiver.received) == 1


def test_a_leased_delivery_is_left_to_its_worker(org, receiver):
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=sent.pk).update(
        leased_until=timezone.now() + timedelta(seconds=30)
    )
    assert delivery.deliver([str(sent.pk)]) == 0
    assert receiver.received == []


def test_an_expired_lease_is_recorded_as_interrupted_and_sent_again(org, receiver, _no_queue):
    # Given a delivery whose worker died mid-attempt (its lease ran out)
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=sent.pk).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    # When the sweep runs
    _no_queue.clear()
    assert delivery.sweep() == 1
    assert _no_queue == [sent.pk]
    sent = send_now(sent)
    # Then the lost attempt is on record and the next one succeeded
    outcomes = list(sent.attempts.values_list("number", "outcome"))
    assert outcomes == [(1, "interrupted"), (2, "succeeded")]


def test_retry_now_and_replay_failed_since(org, receiver):
    receiver.replies.extend([Reply(410)])
    integration, _secret = make_integration(org, receiver.url())
    first = send_now(delivery_for(integration))
    assert first.status == DeliveryStatus.FAILED
    # Retry now sends a failed delivery again (a test event goes even to a disabled one)
    assert retry_delivery(first)
    # ... but the integration is disabled by the 410, so a real event fails at once
    first = send_now(first)
    assert first.last_error == "The integration is disabled."
    # Re-enabled, "replay failed since" sends every failed delivery since then
    from integrations.webhooks.services import update_integration

    update_integration(integration, is_active=True)
    assert replay_failed_since(integration, timezone.now() - timedelta(hours=1)) == 1
    first = send_now(first)
    assert first.status == DeliveryStatus.SUCCEEDED
    assert first.attempts.count() == 2
    assert json.loads(receiver.received[-1].body)["eventId"] == str(first.event_id)


def test_a_long_retry_waits_for_the_sweep_not_a_countdown_task(
    org, receiver, _no_queue, webhook_settings
):
    # Given a schedule whose first step is longer than a countdown task may wait
    webhook_settings.HEALIX_WEBHOOK_RETRY_SCHEDULE = [3600]
    receiver.replies.append(Reply(500))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    _no_queue.clear()
    sent = send_now(sent)
    # Then no task was queued for the retry, and the sweep leaves it until it is due
    assert _no_queue == []
    assert delivery.sweep() == 0
    # When it is due, the sweep queues it
    WebhookDelivery.objects.filter(pk=sent.pk).update(next_attempt_at=timezone.now())
    assert delivery.sweep() == 1 and _no_queue == [sent.pk]


def test_a_short_retry_gets_a_countdown_task(org, receiver, _no_queue):
    receiver.replies.append(Reply(500))
    integration, _secret = make_integration(org, receiver.url())
    sent = send_test_event(integration)
    _no_queue.clear()
    send_now(sent)
    assert _no_queue == [str(sent.pk)]
