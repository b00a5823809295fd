"""Managing HTTP integrations: the functions the admin (and the REST API) call.

create_integration / update_integration (with their subscriptions and conditions: set_choices),
rotate_secret, send_test_event, retry_delivery, replay_failed_since. Each validates what it is given
(ValidationError, the same messages the admin shows), runs in one transaction and queues
delivery tasks only after the commit.
"""

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.envelopes import rfc3339
from events.outbox import encode_envelope
from events.types import subject_for
from healix.models import Organization, User
from healix.observability.tracing import current_trace_id, new_trace_id
from integrations.models import (
    SUBSCRIPTION_SCOPES,
    TEST_EVENT_TYPE,
    DeliveryStatus,
    HttpIntegration,
    HttpIntegrationCondition,
    HttpIntegrationEvent,
    IntegrationEventKind,
    WebhookDelivery,
    WebhookSubscription,
)
from integrations.webhooks.delivery import queue_deliveries
from integrations.webhooks.headers import keep_masked_values, masked_headers, same_origin
from integrations.webhooks.signing import new_secret

__all__ = [
    "ALL",
    "ConditionSpec",
    "create_integration",
    "delete_integration",
    "replay_failed_since",
    "retry_delivery",
    "rotate_secret",
    "send_test_event",
    "set_choices",
    "update_integration",
]

# An event type's choice: every template / form / work queue, or exactly these (none: []).
ALL: Literal["all"] = "all"
Choice = Literal["all"] | Sequence[Any]
CHOICE_NAMES = ("subscriptions", "conditions")
INTEGRATION_FIELDS = (
    "partner_name",
    "url",
    "is_active",
    "include_test_events",
    "custom_headers",
)


@dataclass(frozen=True)
class ConditionSpec:
    path: str
    field_type: str
    cell: str


def _subscriptions(
    integration: HttpIntegration, event_type: str, choice: Choice
) -> Iterator[WebhookSubscription]:
    """The unsaved subscriptions of `event_type` that `choice` stands for."""
    if choice == ALL:
        scopes: Sequence[Any] = [None]
    elif isinstance(choice, str):  # a string is a sequence too: never a list of rows
        raise ValidationError(f'Give "{ALL}" or a list of rows for {event_type}.')
    else:
        scopes = choice
    scope_field = SUBSCRIPTION_SCOPES.get(event_type)
    if scope_field is None:
        raise ValidationError(f"Unknown event type: {event_type}.")
    for scope in scopes:
        yield WebhookSubscription(
            organization_id=integration.organization_id,
            integration=integration,
            event_type=event_type,
            **{scope_field: scope},
        )


@transaction.atomic
def set_choices(
    integration: HttpIntegration,
    *,
    subscriptions: Mapping[str, Choice] | None = None,
    conditions: Iterable[ConditionSpec] | None = None,
) -> None:
    """Replace the subscriptions of each event type in `subscriptions` (event type -> choice;
    a type left out keeps its own) and, if given, the conditions. A row of another
    organization is refused with a ValidationError (and by PostgreSQL's composite keys), and
    so is a subscription given twice."""
    for event_type, choice in (subscriptions or {}).items():
        integration.subscriptions.filter(event_type=event_type).delete()
        for row in _subscriptions(integration, event_type, choice):
            row.full_clean()  # also the unique and scope-fits constraints, as messages
            row.save()
    if conditions is not None:
        integration.conditions.all().delete()
        for spec in conditions:
            row = HttpIntegrationCondition(
                integration=integration,
                path=spec.path,
                field_type=spec.field_type,
                cell=spec.cell,
            )
            row.full_clean()
            row.save()
    # A new version for the fan-out's cache (integrations/webhooks/fanout.py).
    integration.save(update_fields=["updated_at"])


@transaction.atomic
def create_integration(
    organization: Organization,
    *,
    partner_name: str,
    url: str,
    is_active: bool = True,
    include_test_events: bool = False,
    custom_headers: dict[str, str] | None = None,
    partner_id: int | None = None,
    **choices: Any,
) -> tuple[HttpIntegration, str]:
    """A new integration and its secret, which is shown to the caller this once; `partner_id`
    names the partner (of the same organization) whose portal created it."""
    secret = new_secret()
    integration = HttpIntegration(
        organization=organization,
        partner_id=partner_id,
        partner_name=partner_name,
        url=url,
        is_active=is_active,
        include_test_events=include_test_events,
        custom_headers=custom_headers or {},
        secret=secret,
    )
    integration.full_clean()
    integration.save()
    set_choices(integration, **choices)
    return integration, secret


def forget_failures_if_reactivated(integration: HttpIntegration, *, was_active: bool) -> None:
    """Switched on again (unsaved): clear why it was disabled and its failure streak."""
    if integration.is_active and not was_active:
        integration.disabled_reason = ""
        integration.failing_since = None


@transaction.atomic
def update_integration(integration: HttpIntegration, **changes: Any) -> HttpIntegration:
    """Change attributes (INTEGRATION_FIELDS), subscriptions and conditions (set_choices').
    Re-activating an integration clears why it was disabled and its failure streak. A masked
    header value keeps the stored one, unless the URL moves to another host: then every
    header value must be given again (integrations/webhooks/headers.py)."""
    choices = {name: changes.pop(name) for name in list(changes) if name in CHOICE_NAMES}
    unknown = set(changes) - set(INTEGRATION_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    was_active = HttpIntegration.objects.filter(pk=integration.pk, is_active=True).exists()
    if {"url", "custom_headers"} & changes.keys():  # headers not given: as if sent back masked
        changes["custom_headers"] = keep_masked_values(
            changes.get("custom_headers", masked_headers(integration.custom_headers)),
            integration.custom_headers,
            moved=not same_origin(changes.get("url", integration.url), integration.url),
        )
    for name, value in changes.items():
        setattr(integration, name, value)
    forget_failures_if_reactivated(integration, was_active=was_active)
    integration.full_clean()
    integration.save()
    if choices:
        set_choices(integration, **choices)
    return integration


@transaction.atomic
def delete_integration(integration: HttpIntegration) -> None:
    """Remove the integration with its choices and delivery log. To pause it and keep the log,
    update it with is_active=False instead.

    Refused (ValidationError) while a worker is sending one of its deliveries: the worker
    would then record an attempt of a deleted delivery, and lose its whole batch's records.
    Locking the deliveries first keeps workers from leasing them until the delete commits."""
    HttpIntegration.objects.select_for_update().filter(pk=integration.pk).first()
    deliveries = WebhookDelivery.objects.select_for_update().filter(integration=integration)
    in_flight = [leased for leased in deliveries.values_list("leased_until", flat=True) if leased]
    if any(leased > timezone.now() for leased in in_flight):
        raise ValidationError(
            "A delivery of this integration is being sent right now; try again in a minute, "
            "or deactivate the integration first."
        )
    HttpIntegration.objects.filter(pk=integration.pk).delete()


@transaction.atomic
def rotate_secret(integration: HttpIntegration) -> str:
    """A new secret, returned this once; the old one keeps signing alongside it for
    HEALIX_WEBHOOK_SECRET_OVERLAP_SECONDS so receivers can switch without losing a message."""
    integration = HttpIntegration.objects.select_for_update().get(pk=integration.pk)
    secret = new_secret()
    integration.previous_secret = integration.secret
    integration.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.HEALIX_WEBHOOK_SECRET_OVERLAP_SECONDS
    )
    integration.secret = secret
    integration.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    until = integration.previous_secret_expires_at
    HttpIntegrationEvent.objects.create(
        organization_id=integration.organization_id,
        integration=integration,
        kind=IntegrationEventKind.SECRET_ROTATED,
        detail=f"The previous secret signs too until {until:%Y-%m-%d %H:%M} UTC.",
    )
    return secret


def test_envelope(integration: HttpIntegration, actor: User | None, event_id: uuid.UUID) -> dict:
    """The envelope of a test event: the common fields, and an info saying what it is."""
    org_id = integration.organization.slug
    return {
        "messageType": subject_for(org_id, TEST_EVENT_TYPE),
        "orgId": org_id,
        "requestedBy": str(actor.pk) if actor is not None else None,
        "traceId": current_trace_id() or new_trace_id(),
        "branch": settings.HEALIX_BRANCH,
        "eventId": str(event_id),
        "occurredAt": rfc3339(timezone.now()),
        "info": {
            "isTest": True,
            "partnerName": integration.partner_name,
            "description": "A test event sent from Healix: signature and delivery check.",
        },
    }


@transaction.atomic
def send_test_event(integration: HttpIntegration, actor: User | None = None) -> WebhookDelivery:
    """Deliver a test event to the integration now (also when it is inactive)."""
    event_id = uuid.uuid4()
    envelope = test_envelope(integration, actor, event_id)
    from integrations.webhooks.fanout import new_delivery

    delivery = new_delivery(
        integration.organization_id,
        integration.pk,
        event_id,
        TEST_EVENT_TYPE,
        encode_envelope(envelope),
        envelope["traceId"],
        timezone.now(),
    )
    delivery.save(force_insert=True)
    transaction.on_commit(lambda: queue_deliveries([delivery.pk]), robust=True)
    return delivery


def _requeue(deliveries) -> int:
    """Pending again, due now, with a fresh retry schedule; tasks queued after the commit."""
    now = timezone.now()
    ids = list(deliveries.values_list("id", flat=True))
    WebhookDelivery.objects.filter(id__in=ids).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        round_attempts=0,
        completed_at=None,
        leased_until=None,
    )
    if ids:
        transaction.on_commit(lambda: queue_deliveries(ids), robust=True)
    return len(ids)


@transaction.atomic
def retry_delivery(delivery: WebhookDelivery) -> bool:
    """Attempt a failed or waiting delivery now; False if it succeeded already or a worker
    is sending it at this moment."""
    now = timezone.now()
    rows = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk)
    rows = rows.exclude(status=DeliveryStatus.SUCCEEDED).exclude(leased_until__gt=now)
    return _requeue(rows) == 1


@transaction.atomic
def replay_failed_since(integration: HttpIntegration, since: datetime) -> int:
    """Send again every failed delivery of the integration created at or after `since`;
    how many."""
    rows = WebhookDelivery.objects.select_for_update().filter(
        integration=integration, status=DeliveryStatus.FAILED, created_at__gte=since
    )
    count = _requeue(rows)
    if count:
        HttpIntegrationEvent.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            kind=IntegrationEventKind.REPLAYED,
            detail=f"{count} failed deliveries since {since:%Y-%m-%d %H:%M} UTC.",
        )
    return count
