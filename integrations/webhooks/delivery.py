"""Delivering webhooks: lease the due deliveries, POST them signed, and record every attempt
(integrations/webhooks/attempts.py), whose next step one retry policy function decides
(integrations/webhooks/retry_policy.py).

A task is safe to run twice (Celery acks late): the delivery row decides. `deliver()` takes
only rows that are pending, due and not leased, and leases them (`leased_until`) before it
sends; a worker killed mid-attempt leaves a lease that runs out, after which the sweep
(`sweep()`, run by beat) queues the delivery again and the lost attempt is recorded as
interrupted. The request is the same every time: same body, same `webhook-id` (the event id).
"""

import logging
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from healix.celery import app
from healix.observability import metrics
from healix.observability.tracing import TRACE_HEADER
from integrations.models import (
    TEST_EVENT_TYPE,
    AttemptOutcome,
    DeliveryStatus,
    HttpIntegration,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.webhooks import transport
from integrations.webhooks.attempts import record_attempts
from integrations.webhooks.signing import signing_headers

__all__ = [
    "deliver",
    "queue_deliveries",
    "signing_secrets",
    "sweep",
]

# The task integrations/tasks.py registers under this name; queued by name, since the task
# calls back into this module.
DELIVER_TASK = "integrations.deliver_webhooks"

logger = logging.getLogger(__name__)

# Requests one task sends at once: a slow endpoint must not hold up the others in its batch.
SEND_THREADS = 16
# Deliveries per Celery task: enough to amortize the task and its two transactions, few enough
# that the worker processes share a burst.
TASK_BATCH = 50
# Deliveries the sweep queues at most per run (the next run takes the rest).
SWEEP_LIMIT = 5000


def signing_secrets(integration: HttpIntegration, now: datetime) -> list[str]:
    """The current secret, plus the previous one during a rotation's overlap."""
    found = [integration.secret]
    expires = integration.previous_secret_expires_at
    if integration.previous_secret and expires is not None and expires > now:
        found.append(integration.previous_secret)
    return found


def queue_deliveries(delivery_ids: Iterable[uuid.UUID], countdown: float | None = None) -> None:
    """Queue the Celery task for these deliveries, in batches. Never raises: the rows are
    committed, and the sweep finds any whose task was not queued."""
    ids = [str(delivery_id) for delivery_id in delivery_ids]
    for start in range(0, len(ids), TASK_BATCH):
        try:
            app.send_task(
                DELIVER_TASK, args=(ids[start : start + TASK_BATCH],), countdown=countdown
            )
        except Exception:
            logger.exception("Could not queue %d webhook deliveries", len(ids[start:]))


def _lease(delivery_ids: Sequence[str], now: datetime) -> list[WebhookDelivery]:
    """Take the pending, due, unleased deliveries among `delivery_ids` (others are done, not
    due, or some other worker's); record an interrupted attempt for each whose previous lease
    ran out; fail those of a disabled integration (test events excepted)."""
    lease_until = now + timedelta(seconds=settings.HEALIX_WEBHOOK_LEASE_SECONDS)
    taken, interrupted, changed = [], [], []
    with transaction.atomic():
        rows = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration", "organization")  # its slug is logged
            .filter(id__in=delivery_ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        )
        for delivery in rows:
            if delivery.leased_until is not None:
                delivery.attempt_count += 1
                delivery.round_attempts += 1
                started = delivery.leased_until - timedelta(
                    seconds=settings.HEALIX_WEBHOOK_LEASE_SECONDS
                )
                interrupted.append(
                    WebhookAttempt(
                        delivery=delivery,
                        number=delivery.attempt_count,
                        started_at=started,
                        error="The worker was lost during this attempt (its lease ran out).",
                        outcome=AttemptOutcome.INTERRUPTED,
                    )
                )
            if not delivery.integration.is_active and delivery.event_type != TEST_EVENT_TYPE:
                delivery.status = DeliveryStatus.FAILED
                delivery.last_error = "The integration is disabled."
                delivery.completed_at = now
                delivery.leased_until = None
            else:
                delivery.leased_until = lease_until
                taken.append(delivery)
            changed.append(delivery)
        WebhookAttempt.objects.bulk_create(interrupted)
        plain = {delivery.pk for delivery in taken} - {a.delivery_id for a in interrupted}
        # The common case, one statement: leased, nothing else changed.
        WebhookDelivery.objects.filter(pk__in=plain).update(leased_until=lease_until)
        others = [delivery for delivery in changed if delivery.pk not in plain]
        if others:
            WebhookDelivery.objects.bulk_update(
                others,
                [
                    "status",
                    "last_error",
                    "completed_at",
                    "leased_until",
                    "attempt_count",
                    "round_attempts",
                ],
            )
    return taken


def _request_headers(delivery: WebhookDelivery, now: datetime) -> dict[str, str]:
    integration = delivery.integration
    headers = dict(integration.custom_headers or {})
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": settings.HEALIX_WEBHOOK_USER_AGENT,
            **signing_headers(
                signing_secrets(integration, now), str(delivery.event_id), now, delivery.payload
            ),
        }
    )
    if delivery.trace_id:
        headers[TRACE_HEADER] = delivery.trace_id
    return headers


def _send(delivery: WebhookDelivery) -> transport.Response:
    now = timezone.now()
    headers = _request_headers(delivery, now)
    return transport.post(delivery.integration.url, delivery.payload.encode(), headers)


_senders: ThreadPoolExecutor | None = None


def _sender_pool() -> ThreadPoolExecutor:
    """This process's sending threads, kept between tasks so that their Sessions (one per
    thread, integrations/webhooks/transport.py) keep their connections. Made on first use, after
    Celery forked the process."""
    global _senders
    if _senders is None:
        _senders = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="webhook")
    return _senders


def deliver(delivery_ids: Sequence[str]) -> int:
    """Send the due deliveries among `delivery_ids`; how many were attempted."""
    taken = _lease(delivery_ids, timezone.now())
    if not taken:
        return 0
    results = list(zip(taken, _sender_pool().map(_send, taken), strict=True))
    retries = record_attempts(results)
    metrics.count_deliveries(results)
    for delivery_id, delay in retries:
        # A short wait is a countdown task; a long one is left to the sweep, because a
        # worker holds countdown tasks in memory (hours of retries for a dead endpoint would
        # pile up there) and loses them with the filesystem broker when it restarts.
        if delay <= settings.HEALIX_WEBHOOK_COUNTDOWN_MAX_SECONDS:
            queue_deliveries([delivery_id], countdown=delay)
    return len(taken)


def sweep() -> int:
    """Queue the deliveries that are due without a task: retries too far ahead for a
    countdown task, and tasks that were lost (pending and overdue by more than one sweep
    interval), and those leased by a worker whose lease ran out. How many were queued."""
    now = timezone.now()
    overdue = now - timedelta(seconds=settings.HEALIX_WEBHOOK_SWEEP_SECONDS)
    # Due retries are the sweep's as soon as they are due (those too far ahead got no
    # countdown task, see deliver()); a short one that has its task too is simply taken by
    # whichever comes first, the other finds it leased or done.
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=overdue, leased_until__isnull=True)
            | Q(leased_until__lt=now)
            | Q(next_attempt_at__lte=now, leased_until__isnull=True, round_attempts__gt=0)
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    queue_deliveries(ids)
    return len(ids)
