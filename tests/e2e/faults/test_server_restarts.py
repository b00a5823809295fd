"""The servers restarted in the middle of the issue's stream: nats-server (every process loses
its connection; JetStream keeps the streams and consumers on disk) and PostgreSQL (every
session is cut; the processes reconnect). Nothing is lost, nothing is processed twice."""

import time

import pytest

from tests.e2e.faults.conftest import DISTINCT, run_stream_with_fault

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

# Seconds a server stays down: long enough for every process to notice and retry.
OUTAGE_SECONDS = 3.0


def restart_nats(stack) -> None:
    stack.nats.stop()
    time.sleep(OUTAGE_SECONDS)
    stack.nats.start()


def restart_postgres(stack) -> None:
    stack.postgres.server.stop()
    time.sleep(OUTAGE_SECONDS)
    stack.postgres.start()


def test_nats_server_restarted_mid_stream(stack):
    # when nats-server stops for a while after a third of the stream was accepted
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.accepted >= DISTINCT // 3, restart_nats
    )
    assert at_strike.accepted < DISTINCT


def test_postgres_restarted_mid_stream(stack):
    # when PostgreSQL stops for a while after a third of the stream was accepted
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.accepted >= DISTINCT // 3, restart_postgres
    )
    assert at_strike.accepted < DISTINCT
