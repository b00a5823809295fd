"""The small pure parts behind failure isolation: which errors are transient, the sweep's
retry delays, and audit JSON that PostgreSQL always takes."""

import json
from datetime import timedelta

import psycopg.errors
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DataError, IntegrityError, InterfaceError, OperationalError

from rules.actions import is_transient
from rules.audit import storable_json
from rules.inbound import HANDOFF_RETRY_MAX_DELAY, retry_delay


def wrapped(django_error: type[Exception], cause: Exception) -> Exception:
    """A Django database error as the backend raises it: the driver's error as its cause."""
    error = django_error(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        wrapped(OperationalError, psycopg.errors.DeadlockDetected()),
        wrapped(OperationalError, psycopg.errors.SerializationFailure()),
        wrapped(OperationalError, psycopg.errors.LockNotAvailable()),
        wrapped(OperationalError, psycopg.errors.QueryCanceled()),
        wrapped(OperationalError, psycopg.errors.AdminShutdown()),
        wrapped(OperationalError, psycopg.errors.DiskFull()),
        wrapped(OperationalError, psycopg.OperationalError("connection lost")),  # no sqlstate
        InterfaceError("connection already closed"),
        SoftTimeLimitExceeded(),
    ],
    ids=repr,
)
def test_failures_that_say_nothing_about_the_action_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(DataError, psycopg.DataError("PostgreSQL text fields cannot contain NUL")),
        wrapped(DataError, psycopg.errors.NumericValueOutOfRange()),
        wrapped(IntegrityError, psycopg.errors.UniqueViolation()),
        wrapped(OperationalError, psycopg.errors.ProgramLimitExceeded()),  # the value's size
        ValueError("a bug"),
        KeyError("another"),
    ],
    ids=repr,
)
def test_a_refused_value_a_constraint_or_a_bug_is_the_actions_failure(error):
    assert not is_transient(error)


def test_retry_delays_double_from_the_sweep_period_up_to_the_cap():
    delays = [retry_delay(n, 60) for n in range(1, 9)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == HANDOFF_RETRY_MAX_DELAY
    assert delays == sorted(delays)
    assert retry_delay(10**6, 60) == HANDOFF_RETRY_MAX_DELAY  # never an overflow


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("plain", "plain"),
        ("a\x00b", "a\ufffdb"),
        ({"k\x00": ["\x00", 1]}, {"k\ufffd": ["\ufffd", 1]}),
        ("\\u0000", "\\u0000"),  # a backslash and "u0000" as written: left alone
        ("\\\x00", "\\\ufffd"),
    ],
)
def test_audit_json_never_holds_an_escaped_u0000(value, stored):
    text = storable_json(json.dumps(value, ensure_ascii=False))
    assert "\\u0000" not in text.replace("\\\\u0000", "")
    assert json.loads(text) == stored
