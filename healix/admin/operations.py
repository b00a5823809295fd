"""The operations view's numbers, per organization, from the tables that record everything:
inbound events, the outbox, webhook deliveries, rule evaluations. Each series counts rows per
time bucket with PostgreSQL's date_bin() (per minute over the last hour, per 15 minutes over
the last day); empty buckets are filled with zeros here.

Duplicates are not rows of their own: an accepted event counts its later copies and keeps when
the last arrived. A duplicate is therefore placed in the bucket of its event's last copy; the
exact per-copy count is Prometheus's healix_inbound_messages_total{status="duplicate"}.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Count, F, Func, Min, Q, Sum, Value
from django.utils import timezone

from events.models import OutboxEvent
from integrations.models import (
    DeliveryStatus,
    HttpIntegration,
    InboundEvent,
    InboundStatus,
    WebhookDelivery,
)
from rules import inbound
from rules.models import RuleEvaluation

__all__ = [
    "WINDOWS",
    "Overview",
    "Series",
    "Waiting",
    "Window",
    "bucket_counts",
    "overview",
    "waiting",
]

FINAL_STATUSES = (DeliveryStatus.SUCCEEDED.value, DeliveryStatus.FAILED.value)
# Buckets are aligned on this instant (UTC), so every query cuts time at the same edges.
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    step: timedelta
    step_name: str

    @property
    def buckets(self) -> int:
        return int(self.span / self.step)

    def starts(self, now: datetime) -> list[datetime]:
        """The buckets' start times, oldest first; the last one holds `now`."""
        last = ORIGIN + (now - ORIGIN) // self.step * self.step
        return [last - self.step * i for i in reversed(range(self.buckets))]


WINDOWS = {
    "hour": Window("last hour", timedelta(hours=1), timedelta(minutes=1), "minute"),
    "day": Window("last day", timedelta(days=1), timedelta(minutes=15), "15 minutes"),
}


class DateBin(Func):
    """date_bin(step, timestamp, origin): the start of the bucket the timestamp falls in."""

    function = "date_bin"
    output_field = models.DateTimeField()

    def __init__(self, step: timedelta, expression: str) -> None:
        super().__init__(
            Value(step, output_field=models.DurationField()),
            F(expression),
            Value(ORIGIN, output_field=models.DateTimeField()),
        )


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


def bucket_counts(
    queryset: models.QuerySet,
    time_field: str,
    window: Window,
    now: datetime,
    total: models.Aggregate | None = None,
) -> list[int]:
    """Per bucket of `window` ending at `now`: how many rows of `queryset` have `time_field`
    in it (or the sum `total` over them), oldest bucket first."""
    starts = window.starts(now)
    rows = (
        queryset.filter(**{f"{time_field}__gte": starts[0]})
        .annotate(bucket=DateBin(window.step, time_field))
        .values("bucket")
        .annotate(n=total or Count("*"))
        .values_list("bucket", "n")
    )
    found: Mapping[datetime, int] = dict(rows)
    return [int(found.get(start) or 0) for start in starts]


@dataclass
class IntegrationLine:
    id: uuid.UUID
    name: str
    pending: int
    series: list[Series]
    retrying: int = 0  # of the pending, those already tried at least once (retries)

    @property
    def failed(self) -> int:
        """Deliveries that failed for good in the window."""
        return sum(s.total for s in self.series if s.label == DeliveryStatus.FAILED)

    @property
    def failing(self) -> bool:
        """An endpoint a person should look at: retries waiting, or failures in the window."""
        return bool(self.retrying or self.failed)


@dataclass
class Overview:
    organization_id: int
    window: Window
    starts: list[datetime]
    inbound: list[Series]
    published: list[Series]
    rules: list[Series]
    oldest_unpublished: datetime | None
    unpublished: int
    awaiting_rules: int = 0
    rules_given_up: int = 0
    integrations: list[IntegrationLine] = field(default_factory=list)


@dataclass
class Waiting:
    """What waits now, per organization id: the page shows one organization's, /metrics every
    organization's (as gauges)."""

    unpublished: dict[int, tuple[int, datetime]]  # events not yet published, oldest occurredAt
    pending: dict[tuple[int, uuid.UUID], int]  # webhook deliveries by (organization, integration)
    awaiting_rules: dict[int, int]  # accepted inbound events the rules are not done with
    rules_given_up: dict[int, int]  # of those, the ones the sweep gave up on (failing)


def waiting(organization_id: int | None = None) -> Waiting:
    """What waits now, for one organization or all; one grouped query each, which the relay's
    queue (a table of its own) and the partial indexes of the delivery sweep and the rules'
    sweep keep to the waiting rows."""
    mine = {} if organization_id is None else {"organization_id": organization_id}
    unpublished = (
        OutboxEvent.objects.filter(pending__isnull=False, **mine)
        .values("organization_id")
        .annotate(n=Count("*"), oldest=Min("occurred_at"))
        .values_list("organization_id", "n", "oldest")
    )
    pending = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, **mine)
        .values("organization_id", "integration_id")
        .annotate(n=Count("*"))
        .values_list("organization_id", "integration_id", "n")
    )
    awaiting = (
        InboundEvent.objects.filter(
            status=InboundStatus.ACCEPTED, rules_done_at__isnull=True, **mine
        )
        .values("organization_id")
        .annotate(
            n=Count("*"),
            given_up=Count("pk", filter=Q(rules_retries__gte=inbound.HANDOFF_MAX_RETRIES)),
        )
        .values_list("organization_id", "n", "given_up")
    )
    return Waiting(
        unpublished={org: (n, oldest) for org, n, oldest in unpublished},
        pending={(org, integration): n for org, integration, n in pending},
        awaiting_rules={org: n for org, n, _given_up in awaiting},
        rules_given_up={org: given_up for org, _n, given_up in awaiting if given_up},
    )


def overview(organization_id: int, window: Window, now: datetime | None = None) -> Overview:
    """Everything the operations page shows for one organization."""
    now = now or timezone.now()
    inbound = InboundEvent.objects.filter(organization_id=organization_id)
    accepted = inbound.filter(status=InboundStatus.ACCEPTED)
    outbox = OutboxEvent.objects.filter(organization_id=organization_id)
    now_waiting = waiting(organization_id)
    unpublished, oldest = now_waiting.unpublished.get(organization_id, (0, None))
    evaluations = RuleEvaluation.objects.filter(organization_id=organization_id)
    fired = Sum(Func(F("fired_rules"), function="cardinality"))
    return Overview(
        organization_id=organization_id,
        window=window,
        starts=window.starts(now),
        inbound=[
            Series("accepted", bucket_counts(accepted, "received_at", window, now)),
            Series(
                "duplicate",
                bucket_counts(accepted, "last_seen_at", window, now, Sum("duplicate_count")),
            ),
            Series(
                "rejected",
                bucket_counts(
                    inbound.filter(status=InboundStatus.REJECTED), "received_at", window, now
                ),
            ),
        ],
        published=[
            Series("published", bucket_counts(outbox, "publication__published_at", window, now))
        ],
        rules=[
            Series("evaluations", bucket_counts(evaluations, "evaluated_at", window, now)),
            Series("rules fired", bucket_counts(evaluations, "evaluated_at", window, now, fired)),
        ],
        oldest_unpublished=oldest,
        unpublished=unpublished,
        awaiting_rules=now_waiting.awaiting_rules.get(organization_id, 0),
        rules_given_up=now_waiting.rules_given_up.get(organization_id, 0),
        integrations=_integrations(organization_id, window, now, now_waiting.pending),
    )


def _integrations(
    organization_id: int,
    window: Window,
    now: datetime,
    pending: Mapping[tuple[int, uuid.UUID], int],
) -> list[IntegrationLine]:
    """Per HTTP integration: deliveries succeeded and failed per bucket (by completion), and
    how many are `pending` now. One query, whatever the number of integrations."""
    deliveries = WebhookDelivery.objects.filter(organization_id=organization_id)
    starts = window.starts(now)
    done = (
        deliveries.filter(completed_at__gte=starts[0], status__in=FINAL_STATUSES)
        .annotate(bucket=DateBin(window.step, "completed_at"))
        .values("integration", "status", "bucket")
        .annotate(n=Count("*"))
        .values_list("integration", "status", "bucket", "n")
    )
    counts = {(integration, status, bucket): n for integration, status, bucket, n in done}
    retrying = dict(
        deliveries.filter(status=DeliveryStatus.PENDING, attempt_count__gt=0)
        .values("integration")
        .annotate(n=Count("*"))
        .values_list("integration", "n")
    )
    integrations = HttpIntegration.objects.filter(organization_id=organization_id)
    return [
        IntegrationLine(
            id=integration.pk,
            name=integration.partner_name,
            pending=pending.get((organization_id, integration.pk), 0),
            retrying=retrying.get(integration.pk, 0),
            series=[
                Series(status, [counts.get((integration.pk, status, at), 0) for at in starts])
                for status in FINAL_STATUSES
            ],
        )
        for integration in integrations.order_by("partner_name", "pk")
    ]
