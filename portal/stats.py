"""Per-endpoint health over the last day: the share of attempts that succeeded, and their
latency (median and 95th percentile), as the portal's endpoint list shows it."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from portal.sql import ENDPOINT_STATS_SQL

__all__ = ["WINDOW", "EndpointStats", "endpoint_stats"]

WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class EndpointStats:
    attempts: int = 0
    succeeded: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None

    @property
    def success_percent(self) -> str:
        rate = self.success_rate
        return "no attempts" if rate is None else f"{rate:.0%}"


def endpoint_stats(
    integration_ids: Iterable[uuid.UUID], now: datetime | None = None
) -> dict[uuid.UUID, EndpointStats]:
    """Stats of each integration over WINDOW before `now` (an empty one where none)."""
    ids = list(integration_ids)
    since = (now or timezone.now()) - WINDOW
    found = {pk: EndpointStats() for pk in ids}
    if not ids:
        return found
    with connection.cursor() as cursor:
        cursor.execute(ENDPOINT_STATS_SQL, {"ids": ids, "since": since})
        for pk, attempts, succeeded, p50, p95 in cursor.fetchall():
            found[pk] = EndpointStats(attempts, succeeded, p50, p95)
    return found
