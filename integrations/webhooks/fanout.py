"""Fan-out: which HTTP integrations a system event goes to, and one delivery per match.

`fan_out()` is what the healix-webhooks consumer (bus/webhook_fanout.py) calls for each
batch of events from HEALIX_EVENTS, inside one transaction. It loads the active integrations of
the batch's organizations once, matches every event against them with the pure `matches()`,
and inserts the deliveries with ON CONFLICT DO NOTHING on (integration, event): a redelivered
NATS message finds its deliveries already there. A delivery's id is derived from the
integration and the event, so the inserted rows need not be read back to queue their task.
"""

import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from events.types import EventType
from healix.models import Organization
from healix.observability.logcontext import bind
from healix.observability.tracing import trace
from integrations.models import (
    SUBSCRIPTION_SCOPES,
    HttpIntegration,
    HttpIntegrationCondition,
    WebhookDelivery,
    WebhookSubscription,
)
from plans.models import Plan
from rules.languages.conditions import Condition
from rules.languages.shorthand import parse_cell

__all__ = [
    "IntegrationFilter",
    "OutgoingEvent",
    "delivery_id",
    "fan_out",
    "load_filters",
    "matches",
    "parse_event",
]

logger = logging.getLogger(__name__)

# Namespace of the delivery ids (uuid5 of integration id and event id).
DELIVERY_NAMESPACE = uuid.UUID("6f7c2a51-8a0e-4d52-9b8f-6b1f0d8f3c11")
# The consumer's loaded integrations per organization, with the version they were loaded at:
# (how many integrations, latest updated_at). Every save of an integration (its choices and
# conditions included, which are saved with it) moves the version, so one small query per
# batch tells whether the three queries of load_filters() are needed. Filters match by name
# (events carry names), and renaming a template, form or work queue does not touch the
# integration: entries are therefore also reloaded after RELOAD_SECONDS.
RELOAD_SECONDS = 5.0
_cache: dict[int, tuple[tuple, float, list["IntegrationFilter"]]] = {}


@dataclass(frozen=True)
class OutgoingEvent:
    """One system event as the bus carries it."""

    org_id: str
    event_type: str
    event_id: uuid.UUID
    trace_id: str
    info: Mapping[str, Any]
    body: str  # the envelope exactly as published


@dataclass(frozen=True)
class IntegrationFilter:
    """What one integration wants, by the names events carry: the event types it takes
    whatever their scope (`every`), and (event type, scope) pairs, the scope being a
    template's name, (template name, form name) or a work queue's name (`scoped`)."""

    integration_id: uuid.UUID
    organization_id: int
    include_test_events: bool
    every: frozenset[str] = frozenset()
    scoped: frozenset[tuple[str, Any]] = frozenset()
    conditions: tuple[tuple[tuple[str, ...], Condition], ...] = ()


def delivery_id(integration_id: uuid.UUID, event_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{integration_id}:{event_id}")


def parse_event(body: bytes | str) -> OutgoingEvent | None:
    """The event in a HEALIX_EVENTS message, or None if it is not one of ours."""
    try:
        envelope = json.loads(body)
        org_id = envelope["orgId"]
        event_type = envelope["messageType"].rsplit(".", 1)[-1]
        event_id = uuid.UUID(envelope["eventId"])
        info = envelope["info"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if event_type not in EventType.values or not isinstance(info, dict):
        return None
    text = body.decode() if isinstance(body, bytes) else body
    return OutgoingEvent(org_id, event_type, event_id, str(envelope.get("traceId", "")), info, text)


def _value_at(info: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = info
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    return value


def event_scope(event: OutgoingEvent, template_name: str | None) -> Any:
    """The name of what narrows `event`'s subscriptions, as IntegrationFilter.scoped has it."""
    scope = SUBSCRIPTION_SCOPES.get(event.event_type)
    if scope == "template":
        return template_name
    if scope == "form":
        return (template_name, event.info.get("formName"))
    if scope == "work_queue":
        return event.info.get("workQueueName")
    return None


def matches(rule: IntegrationFilter, event: OutgoingEvent, template_name: str | None) -> bool:
    """Does `event` go to the integration? `template_name` is the plan's template (events of
    planUpdated and formSubmitted do not carry it). Pure: no database."""
    if event.info.get("isTest") is True and not rule.include_test_events:
        return False
    chosen = (
        event.event_type in rule.every
        or (event.event_type, event_scope(event, template_name)) in rule.scoped
    )
    return chosen and all(
        condition.holds(_value_at(event.info, path)) for path, condition in rule.conditions
    )


def cached_filters(organization_ids: Iterable[int]) -> dict[int, list[IntegrationFilter]]:
    """load_filters(), reloading only organizations whose integrations changed since."""
    wanted = set(organization_ids)
    versions = {
        row["organization_id"]: (row["count"], row["latest"])
        for row in HttpIntegration.objects.filter(organization_id__in=wanted)
        .values("organization_id")
        .annotate(count=Count("id"), latest=Max("updated_at"))
    }
    now = time.monotonic()
    stale = [
        org
        for org in wanted
        if org not in _cache or _cache[org][0] != versions.get(org) or _cache[org][1] < now
    ]
    if stale:
        loaded = load_filters(stale)
        for org in stale:
            _cache[org] = (versions.get(org), now + RELOAD_SECONDS, loaded.get(org, []))
    return {org: _cache[org][2] for org in wanted if _cache[org][2]}


def _scope_name(
    template: str | None, form_template: str | None, form: str | None, queue: str | None
) -> Any:
    """A subscription row's scope as event_scope() names it; None: every one."""
    if template is not None:
        return template
    if form is not None:
        return (form_template, form)
    return queue


def load_filters(organization_ids: Iterable[int]) -> dict[int, list[IntegrationFilter]]:
    """The active integrations of these organizations, as filters (three queries)."""
    active = HttpIntegration.objects.filter(
        organization_id__in=list(organization_ids), is_active=True
    )
    integrations = list(active.values_list("id", "organization_id", "include_test_events"))
    every: dict[uuid.UUID, set[str]] = defaultdict(set)
    scoped: dict[uuid.UUID, set[tuple[str, Any]]] = defaultdict(set)
    rows = (
        WebhookSubscription.objects.filter(integration__in=active)
        .order_by()
        .values_list(
            "integration_id",
            "event_type",
            "template__name",
            "form__template__name",
            "form__name",
            "work_queue__name",
        )
    )
    for integration_id, event_type, *names in rows:
        scope = _scope_name(*names)
        if scope is None:
            every[integration_id].add(event_type)
        else:
            scoped[integration_id].add((event_type, scope))
    conditions = defaultdict(list)
    cells = HttpIntegrationCondition.objects.filter(integration__in=active)
    for integration_id, path, field_type, cell in cells.values_list(
        "integration_id", "path", "field_type", "cell"
    ):
        conditions[integration_id].append((tuple(path.split(".")), parse_cell(cell, field_type)))
    found: dict[int, list[IntegrationFilter]] = {}
    for integration_id, organization_id, include_test_events in integrations:
        found.setdefault(organization_id, []).append(
            IntegrationFilter(
                integration_id=integration_id,
                organization_id=organization_id,
                include_test_events=include_test_events,
                every=frozenset(every[integration_id]),
                scoped=frozenset(scoped[integration_id]),
                conditions=tuple(conditions[integration_id]),
            )
        )
    return found


def _template_names(events: list[tuple[int, OutgoingEvent]]) -> dict[str, str]:
    """planId -> template name for the events that do not carry it, within their org."""
    wanted = {
        (organization_id, str(event.info.get("planId")))
        for organization_id, event in events
        if event.event_type in (EventType.PLAN_UPDATED, EventType.FORM_SUBMITTED)
    }
    if not wanted:
        return {}
    plan_ids = []
    for _organization_id, plan_id in wanted:
        try:
            plan_ids.append(uuid.UUID(plan_id))
        except ValueError:
            continue
    rows = Plan.objects.filter(id__in=plan_ids).values_list(
        "id", "organization_id", "template__name"
    )
    return {
        str(plan_id): name
        for plan_id, organization_id, name in rows
        if (organization_id, str(plan_id)) in wanted
    }


def fan_out(events: list[OutgoingEvent], *, cache: bool = False) -> list[uuid.UUID]:
    """Create the deliveries of `events` (in the caller's transaction); the ids of every
    matching delivery, new or found (queueing one twice is harmless: the row decides)."""
    slugs = {event.org_id for event in events}
    organizations = dict(Organization.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    known = [
        (organizations[event.org_id], event) for event in events if event.org_id in organizations
    ]
    if not known:
        return []
    organization_ids = {organization_id for organization_id, _event in known}
    filters = cached_filters(organization_ids) if cache else load_filters(organization_ids)
    if not filters:
        return []
    known = [(org, event) for org, event in known if org in filters]
    template_names = _template_names(known)
    now = timezone.now()
    rows = []
    for organization_id, event in known:
        template_name = event.info.get("templateName") or template_names.get(
            str(event.info.get("planId"))
        )
        for rule in filters[organization_id]:
            if not matches(rule, event, template_name):
                continue
            rows.append(
                new_delivery(
                    organization_id,
                    rule.integration_id,
                    event.event_id,
                    event.event_type,
                    event.body,
                    event.trace_id,
                    now,
                )
            )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    slugs = {pk: slug for slug, pk in organizations.items()}
    transaction.on_commit(partial(_log_deliveries, rows, slugs), robust=True)
    return [row.id for row in rows]


def _log_deliveries(rows: list[WebhookDelivery], slugs: dict[int, str]) -> None:
    """Once committed: one line per matching integration (a redelivered event's too)."""
    for row in rows:
        with (
            trace(row.trace_id or None),
            bind(
                org_id=slugs.get(row.organization_id),
                event_id=row.event_id,
                delivery_id=row.id,
                integration_id=row.integration_id,
            ),
        ):
            logger.info("Webhook delivery queued: %s", row.event_type)


def new_delivery(
    organization_id: int,
    integration_id: int,
    event_id: uuid.UUID,
    event_type: str,
    payload: str,
    trace_id: str,
    due: datetime,
) -> WebhookDelivery:
    """An unsaved delivery of one event to one integration, due at `due`."""
    return WebhookDelivery(
        id=delivery_id(integration_id, event_id),
        organization_id=organization_id,
        integration_id=integration_id,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        trace_id=trace_id[:64],
        next_attempt_at=due,
    )


def fan_out_and_queue(events: list[OutgoingEvent], *, cache: bool = True) -> int:
    """fan_out() in its own transaction, the tasks queued after the commit; how many."""
    from integrations.webhooks.delivery import queue_deliveries

    with transaction.atomic():
        ids = fan_out(events, cache=cache)
        if ids:
            transaction.on_commit(lambda: queue_deliveries(ids), robust=True)
    return len(ids)
