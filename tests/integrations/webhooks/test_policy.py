"""The retry policy and the signatures: small pure functions, tested alone."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from integrations.models import AttemptOutcome
from integrations.webhooks.retry_policy import decide
from integrations.webhooks.signing import new_secret, signing_headers
from integrations.webhooks.transport import Response, parse_retry_after

SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def response(status=None, **extra) -> Response:
    return Response(NOW, 10, status_code=status, **extra)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_success(status):
    assert decide(response(status), 1, schedule=SCHEDULE).outcome == AttemptOutcome.SUCCEEDED


def test_410_disables():
    assert decide(response(410), 1, schedule=SCHEDULE).outcome == AttemptOutcome.DISABLED


def test_refused_by_the_guard_is_never_retried():
    refused = response(error="loopback", refused=True)
    assert decide(refused, 1, schedule=SCHEDULE).outcome == AttemptOutcome.FAILED


@pytest.mark.parametrize(
    "failure",
    [response(500), response(404), response(301), response(429), response(error="Timeout")],
)
def test_other_failures_follow_the_schedule_then_fail(failure):
    # Given the schedule: attempt n waits step n, and attempt 8 is the last
    delays = [decide(failure, n, schedule=SCHEDULE).delay for n in range(1, 8)]
    assert delays == SCHEDULE
    assert decide(failure, 8, schedule=SCHEDULE).outcome == AttemptOutcome.FAILED


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_and_capped(status):
    decision = decide(response(status, retry_after=120.0), 1, schedule=SCHEDULE)
    assert (decision.outcome, decision.delay) == (AttemptOutcome.RETRY, 120.0)
    capped = decide(response(status, retry_after=1e9), 1, schedule=SCHEDULE, max_retry_after=60)
    assert capped.delay == 60


def test_jitter_stays_within_its_band():
    rng = random.Random(7)
    delays = [
        decide(response(500), 2, schedule=SCHEDULE, jitter=0.1, rng=rng).delay for _ in range(200)
    ]
    assert all(270 <= delay <= 330 for delay in delays)
    assert len(set(delays)) > 100


def test_retry_after_header_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Mon, 23 Nov 2026 12:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_signature_verifies_with_the_standardwebhooks_library():
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = '{"eventId":"e1"}'
    headers = signing_headers([secret], "e1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"eventId": "e1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + " ", headers)


def test_two_secrets_sign_during_a_rotation():
    old, new = new_secret(), new_secret()
    body = "{}"
    headers = signing_headers([new, old], "e2", datetime.now(UTC), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_an_old_timestamp_is_refused_by_receivers():
    secret = new_secret()
    headers = signing_headers([secret], "e3", datetime.now(UTC) - timedelta(hours=1), "{}")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify("{}", headers)
