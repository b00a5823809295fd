"""Recording what attempts answered: one WebhookAttempt row each, the delivery's next step by
the retry policy (integrations/webhooks/retry_policy.py), and the endpoint's health (an
endpoint that answers 410 Gone, or keeps failing, is disabled)."""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from healix.observability.logcontext import bind
from healix.observability.tracing import trace
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
from integrations.sql import UPDATE_AFTER_ATTEMPTS_SQL
from integrations.webhooks import transport
from integrations.webhooks.retry_policy import decide

__all__ = ["disable", "record_attempts"]

logger = logging.getLogger(__name__)

# What an attempt keeps of the response headers: enough to debug, bounded in size.
KEEP_HEADERS = 50
KEEP_HEADER_CHARS = 1024


def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name[:KEEP_HEADER_CHARS]: value[:KEEP_HEADER_CHARS]
        for name, value in list(headers.items())[:KEEP_HEADERS]
    }


def record_attempts(
    results: list[tuple[WebhookDelivery, transport.Response]],
) -> list[tuple[str, float]]:
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
            UPDATE_AFTER_ATTEMPTS_SQL.format(table=WebhookDelivery._meta.db_table),
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
