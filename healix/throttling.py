"""Throttling per API key, shared by every web process: a fixed window counted in PostgreSQL.

The count is taken in the authentication's own statement (healix/api_auth.py), so it costs no
extra round trip; a key's requests are counted whether or not its secret then matches.

Why not Django's cache framework: the database cache backend needs `createcachetable` and
counts with a read then a write, so concurrent requests of one key can both read the same count
(DRF's throttles keep a list of timestamps, rewritten whole on every request). Here one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` counts atomically, in one round trip, in an
UNLOGGED table the migrations create; nothing else to run on a fresh machine.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from healix.models import ApiRateWindow, OrganizationAPIKey

__all__ = [
    "COUNT_FOUND_SQL",
    "ApiKeyRateThrottle",
    "Counted",
    "count_request",
    "window_start",
]

WINDOW = timedelta(minutes=1)

_UPSERT = f"""
INSERT INTO {ApiRateWindow._meta.db_table} AS w (api_key_id, window_start, requests)
{{source}}
ON CONFLICT (api_key_id) DO UPDATE SET
    requests = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.requests + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING requests
"""
COUNT_SQL = _UPSERT.format(source="VALUES (%(key)s, %(window)s, 1)")
# The same count as part of the authentication statement (healix/api_auth.py), whose CTE
# `found` holds the key's row.
COUNT_FOUND_SQL = _UPSERT.format(source="SELECT id, %(window)s, 1 FROM found")


@dataclass(frozen=True)
class Counted:
    """A request counted at `moment`: the `requests` of its key in that window so far."""

    moment: datetime
    requests: int


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count_request(api_key_id: str, now: datetime) -> int:
    """Count one request of the key in the window holding `now`; returns the window's count."""
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL, {"key": api_key_id, "window": window_start(now)})
        return cursor.fetchone()[0]


class ApiKeyRateThrottle(BaseThrottle):
    """At most HEALIX_API_RATE_PER_MINUTE requests per key and minute; then 429 with
    Retry-After (the seconds until the window ends). Requests without a key are not counted
    here: they are refused (401) or are the public documents."""

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, OrganizationAPIKey):
            return True
        counted = getattr(api_key, "counted", None)  # by the authentication's statement
        if counted is None:
            now = timezone.now()
            counted = Counted(now, count_request(api_key.pk, now))
        moment = counted.moment
        self.retry_after = ceil((window_start(moment) + WINDOW - moment).total_seconds())
        return counted.requests <= settings.HEALIX_API_RATE_PER_MINUTE

    def wait(self) -> float:
        return max(self.retry_after, 1)
