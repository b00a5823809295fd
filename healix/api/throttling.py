"""Throttling per API key, shared by every web process: a fixed window counted in PostgreSQL.

The count is taken in the authentication's own statement (healix/api/auth.py), so it costs no
extra round trip, and only once the key's secret matched: a key's prefix is not secret (admin
URLs, consumer names, inbox prefixes), so guesses with it must not spend the key's budget.
Failed checks are counted apart, per client address and prefix (`count_failed_attempt`), and
refused with their own 429 once over HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE.

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
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from healix.models import ApiAuthFailureWindow, OrganizationAPIKey
from healix.prepared import prepared_cursor
from healix.sql import COUNT_FAILURE_SQL, COUNT_SQL, PURGE_FAILURES_SQL

__all__ = [
    "ApiKeyRateThrottle",
    "Counted",
    "FailedAttemptsThrottled",
    "client_address",
    "count_failed_attempt",
    "count_request",
    "seconds_left",
    "window_start",
]

WINDOW = timedelta(minutes=1)
# Characters of a client address kept: an IPv6 address with its zone fits; anything longer
# is not an address a proxy wrote.
CLIENT_ADDRESS_MAX = ApiAuthFailureWindow._meta.get_field("client").max_length
# Stale failure rows deleted by each failure that opens a new row or window: each adds one
# row at most and removes up to this many, so the table holds little more than the rows of
# the current minute.
FAILURE_PURGE_BATCH = 100


@dataclass(frozen=True)
class Counted:
    """A request counted at `moment`: the `requests` of its key in that window so far."""

    moment: datetime
    requests: int


def window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def seconds_left(moment: datetime) -> int:
    """Whole seconds from `moment` until its window ends (a Retry-After)."""
    return max(ceil((window_start(moment) + WINDOW - moment).total_seconds()), 1)


def client_address(request: HttpRequest) -> str:
    """The address failed attempts are counted under: REMOTE_ADDR, or behind
    HEALIX_API_TRUSTED_PROXIES proxies the address the outermost of them saw (each appends
    the address it was called from to X-Forwarded-For; what a client wrote in front of those
    is not trusted). DRF's own get_ident trusts the whole header unless NUM_PROXIES is set."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.HEALIX_API_TRUSTED_PROXIES
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [hop for hop in forwarded if hop]
    if proxies > 0 and forwarded:
        address = forwarded[-min(proxies, len(forwarded))]
    return address[:CLIENT_ADDRESS_MAX]


def count_failed_attempt(client: str, prefix: str, now: datetime) -> int:
    """Count one failed key check of `client` with `prefix` in the window holding `now`;
    returns that window's count. Never touches the key's own window."""
    window = window_start(now)
    client = client[:CLIENT_ADDRESS_MAX].replace("\x00", "")  # PostgreSQL text holds no NUL
    with prepared_cursor() as cursor:
        cursor.execute(
            COUNT_FAILURE_SQL,
            {"client": client, "prefix": prefix, "window": window},
            prepare=True,
        )
        attempts = cursor.fetchone()[0]
        if attempts == 1:  # a new row or window: clear away some that are over
            cursor.execute(
                PURGE_FAILURES_SQL, {"window": window, "batch": FAILURE_PURGE_BATCH}, prepare=True
            )
    return attempts


class FailedAttemptsThrottled(Throttled):
    """429 for a client address that failed too often with one key prefix this minute."""

    def __init__(self, wait: int) -> None:
        # DRF adds "Expected available in <wait> seconds."
        super().__init__(wait, "Too many failed attempts with this API key from your address.")


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
        self.retry_after = seconds_left(counted.moment)
        return counted.requests <= settings.HEALIX_API_RATE_PER_MINUTE

    def wait(self) -> float:
        return self.retry_after
