"""Delivering webhooks: lease the due deliveries, POST them signed, record every attempt, and
decide what comes next with one retry policy function (`decide`).

A task is safe to run twice (Celery acks late): the delivery row decides. `deliver()` takes
only rows that are pending, due and not leased, and leases them (`leased_until`) before it
sends; a worker killed mid-attempt leaves a lease that runs out, after which the sweep
(`sweep()`, run by beat) queues the delivery again and the lost attempt is recorded as
interrupted. The request is the same every time: same body, same `webhook-id` (the event id).
"""

import logging
import random
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from healix.celery import app
from healix.observability import metrics
from healix.observability.logcontext import bind
from healix.observability.tracing import TRACE_HEADER, trace
from integrations.models import (
    TEST_EVENT_TYPE,
    AttemptOutcome,
    DeliveryStatus,
    HttpIntegration,
    HttpIntegrationEvent,
    IntegrationEventKind,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.webhooks import transport
from integrations.webhooks.signing import signing_headers

__all__ = [
    "Decision",
    "decide",
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
# What an attempt keeps of the response headers: enough to debug, bounded in size.
KEEP_HEADERS = 50
KEEP_HEADER_CHARS = 1024


@dataclass(frozen=True)
class Decision:
    outcome: str  # an AttemptOutcome
    delay: float | None = None  # seconds until the next attempt (RETRY only)
    reason: str = ""


def decide(
    response: transport.Response,
    attempts_in_round: int,
    *,
    schedule: Sequence[float],
    jitter: float = 0.0,
    max_retry_after: float = float("inf"),
    rng: random.Random | None = None,
) -> Decision:
    """The retry policy, every case by name. `attempts_in_round` counts this attempt."""
    status = response.status_code
    if response.refused:
        return Decision(AttemptOutcome.FAILED, reason="refused by the SSRF guard; not retried")
    if status is not None and 200 <= status < 300:
        return Decision(AttemptOutcome.SUCCEEDED)
    if status == 410:
        return Decision(AttemptOutcome.DISABLED, reason="410 Gone: the endpoint is retired")
    if attempts_in_round > len(schedule):
        return Decision(AttemptOutcome.FAILED, reason="retries exhausted")
    if status in (429, 503) and response.retry_after is not None:
        return Decision(
            AttemptOutcome.RETRY,
            delay=min(response.retry_after, max_retry_after),
            reason=f"{status}: Retry-After honoured",
        )
    # Anything else (3xx, 4xx, 5xx, timeouts, connection errors) follows the schedule.
    step = schedule[attempts_in_round - 1]
    factor = 1.0 + (rng or random).uniform(-jitter, jitter) if jitter else 1.0
    return Decision(AttemptOutcome.RETRY, delay=max(0.0, step * factor), reason="scheduled")


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


def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name[:KEEP_HEADER_CHARS]: value[:KEEP_HEADER_CHARS]
        for name, value in list(headers.items())[:KEEP_HEADERS]
    }


def _record(results: list[tuple[WebhookDelivery, transport.Response]]) -> list[tuple[str, float]]:
    """Store the attempts and apply the policy; (delivery id, delay) of the retries."""
    now = timezone.now()
    retries: list[tuple[str, float]] = []
    attempts, succeeded_integrations, failed_integrations, gone = [], set(), {}, {}
    for delivery, response in results:
        delivery.attempt_count += 1
        delivery.round_attempts += 1
        decision = decide(
            response,
            delivery.round_attempts,
            schedule=settings.HEALIX_WEBHOOK_RETRY_SCHEDULE,
            jitter=settings.HEALIX_WEBHOOK_RETRY_JITTER,
            max_retry_after=settings.HEALIX_WEBHOOK_MAX_RETRY_AFTER_SECONDS,
        )
        error = response.error or (
            "" if decision.outcome == AttemptOutcome.SUCCEEDED else decision.reason
        )
        attempts.append(
            WebhookAttempt(
                delivery=delivery,
                number=delivery.attempt_count,
                started_at=response.started_at,
                duration_ms=response.duration_ms,
                status_code=response.status_code,
                response_headers=_kept_headers(response.headers),
                response_body=response.body,
                error=error,
                outcome=decision.outcome,
            )
        )
        delivery.leased_until = None
        delivery.last_status_code = response.status_code
        delivery.last_error = error
        if decision.outcome == AttemptOutcome.RETRY:
            delivery.next_attempt_at = now + timedelta(seconds=decision.delay)
            retries.append((str(delivery.pk), decision.delay))
        else:
            delivery.status = (
                DeliveryStatus.SUCCEEDED
                if decision.outcome == AttemptOutcome.SUCCEEDED
                else DeliveryStatus.FAILED
            )
            delivery.completed_at = now
            delivery.next_attempt_at = None
        if delivery.event_type == TEST_EVENT_TYPE:
            continue  # a test event says nothing about the endpoint's health over time
        if decision.outcome == AttemptOutcome.SUCCEEDED:
            succeeded_integrations.add(delivery.integration_id)
        else:
            failed_integrations.setdefault(delivery.integration_id, response.started_at)
        if decision.outcome == AttemptOutcome.DISABLED:
            gone[delivery.integration_id] = decision.reason
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(attempts)
        _update_after_attempts([delivery for delivery, _response in results])
        _track_health(now, succeeded_integrations, failed_integrations, gone)
    for attempt in attempts:
        _log_attempt(attempt)
    return retries


def _log_attempt(attempt: WebhookAttempt) -> None:
    """Status, duration, outcome and the error's kind; never the response body."""
    delivery = attempt.delivery
    extra = {
        "attempt": attempt.number,
        "statusCode": attempt.status_code,
        "durationMs": attempt.duration_ms,
        "outcome": attempt.outcome,
        # Only the kind: a transport error quotes the URL, which may hold a partner's token.
        "error": attempt.error.split(":", 1)[0][:60],
        "nextAttemptAt": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
    }
    ok = attempt.outcome == AttemptOutcome.SUCCEEDED
    with (
        trace(delivery.trace_id or None),
        bind(
            org_id=delivery.organization.slug,
            event_id=delivery.event_id,
            delivery_id=delivery.pk,
            integration_id=delivery.integration_id,
        ),
    ):
        (logger.info if ok else logger.warning)(
            "Webhook attempt %d: %s", attempt.number, attempt.outcome, extra=extra
        )


# One statement for a whole batch (bulk_update's CASE per row and field costs more than the
# requests): the new values travel as arrays, unnested side by side.
UPDATE_AFTER_ATTEMPTS = """
UPDATE {table} AS d SET
    attempt_count = v.attempt_count, round_attempts = v.round_attempts, leased_until = NULL,
    last_status_code = v.last_status_code, last_error = v.last_error,
    next_attempt_at = v.next_attempt_at, status = v.status, completed_at = v.completed_at
FROM (
    SELECT * FROM unnest(
        %s::uuid[], %s::integer[], %s::integer[], %s::smallint[], %s::text[],
        %s::timestamptz[], %s::varchar[], %s::timestamptz[]
    ) AS v(id, attempt_count, round_attempts, last_status_code, last_error,
           next_attempt_at, status, completed_at)
) AS v
WHERE d.id = v.id
"""


def _update_after_attempts(deliveries: list[WebhookDelivery]) -> None:
    columns = list(
        zip(
            *[
                (
                    d.pk,
                    d.attempt_count,
                    d.round_attempts,
                    d.last_status_code,
                    d.last_error,
                    d.next_attempt_at,
                    d.status,
                    d.completed_at,
                )
                for d in deliveries
            ],
            strict=True,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            UPDATE_AFTER_ATTEMPTS.format(table=WebhookDelivery._meta.db_table),
            [list(column) for column in columns],
        )


def _track_health(
    now: datetime,
    succeeded: set[uuid.UUID],
    failed: dict[uuid.UUID, datetime],
    gone: dict[uuid.UUID, str],
) -> None:
    """failing_since: set by the first failure, cleared by any success; disable an integration
    that answered 410 or has failed for HEALIX_WEBHOOK_DISABLE_AFTER_SECONDS."""
    if succeeded:
        HttpIntegration.objects.filter(id__in=succeeded, failing_since__isnull=False).update(
            failing_since=None
        )
    for integration_id, since in failed.items():
        if integration_id in succeeded:
            continue
        HttpIntegration.objects.filter(id=integration_id, failing_since__isnull=True).update(
            failing_since=since
        )
    limit = now - timedelta(seconds=settings.HEALIX_WEBHOOK_DISABLE_AFTER_SECONDS)
    stale = HttpIntegration.objects.filter(
        id__in=[key for key in failed if key not in succeeded],
        failing_since__lte=limit,
        is_active=True,
    ).values_list("id", "failing_since")
    reasons = dict(gone)
    for integration_id, since in stale:
        reasons.setdefault(integration_id, f"Every attempt failed since {since:%Y-%m-%d %H:%M}.")
    for integration_id, reason in reasons.items():
        disable(integration_id, reason)


def disable(integration_id: uuid.UUID, reason: str) -> bool:
    """Deactivate the integration and record why (an operational event); False if it was
    inactive already."""
    with transaction.atomic():
        integration = HttpIntegration.objects.select_for_update().filter(id=integration_id).first()
        if integration is None or not integration.is_active:
            return False
        integration.is_active = False
        integration.disabled_reason = reason
        integration.save(update_fields=["is_active", "disabled_reason", "updated_at"])
        HttpIntegrationEvent.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            kind=IntegrationEventKind.DISABLED,
            detail=reason,
        )
    logger.warning("HTTP integration %s disabled: %s", integration_id, reason)
    return True


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
    retries = _record(results)
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
