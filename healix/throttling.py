"""Throttling per API key, shared by every web process: a fixed window counted in PostgreSQL.

Why not Django's cache framework: the database cache backend needs `createcachetable` and
counts with a read then a write, so concurrent requests of one key can both read the same count
(DRF's throttles keep a list of timestamps, rewritten whole on every request). Here one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` counts atomically, in one round trip, in an
UNLOGGED table the migrations create; nothing else to run on a fresh machine.
"""

from datetime import datetime, timedelta
from math import ceil

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from healix.models import ApiRateWindow, OrganizationAPIKey

__all__ = ["ApiKeyRateThrottle", "count_request"]

WINDOW = timedelta(minutes=1)

COUNT_SQL = f"""
INSERT INTO {ApiRateWindow._meta.db_table} AS w (api_key_id, window_start, requests)
VALUES (%(key)s, %(window)s, 1)
ON CONFLICT (api_key_id) DO UPDATE SET
    requests = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.requests + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING requests
"""


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count_request(api_key_id: str, now: datetime) -> int:
    """Count one request of the key in the window holding `now`; returns the window's count."""
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL, {"key": api_key_id, "window": _window_start(now)})
        return cursor.fetchone()[0]


class ApiKeyRateThrottle(BaseThrottle):
    """At most HEALIX_API_RATE_PER_MINUTE requests per key and minute; then 429 with
    Retry-After (the seconds until the window ends). Requests without a key are not counted
    here: they are refused (401) or are the public documents."""

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, OrganizationAPIKey):
            return True
        now = timezone.now()
        self.retry_after = ceil((_window_start(now) + WINDOW - now).total_seconds())
        return count_request(request.auth.pk, now) <= settings.HEALIX_API_RATE_PER_MINUTE

    def wait(self) -> float:
        return max(self.retry_after, 1)
