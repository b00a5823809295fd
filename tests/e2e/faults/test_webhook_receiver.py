"""A partner's webhook endpoint down for a while in the middle of the issue's stream, then
back on the same port: the deliveries that failed meanwhile are retried on the schedule and
all arrive, each under its event's `webhook-id`."""

import pytest

from tests.e2e.faults.conftest import PLANS, run_stream_with_fault

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

OUTAGE_SECONDS = 5.0


@pytest.fixture
def stack_settings() -> dict:
    # Retries over about 30 s (no jitter): a 5 s outage is well inside the schedule, as hours
    # are inside the real one (Svix's, 28 hours).
    return {"HEALIX_WEBHOOK_RETRY_SCHEDULE": [0.5, 1, 2, 4, 8, 8, 8]}


def receiver_down_for_a_while(stack) -> None:
    stack.receiver_down(OUTAGE_SECONDS)


def test_webhook_receiver_down_then_back(stack):
    # when the receiver goes away after a third of the webhooks arrived, and comes back later
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.succeeded >= PLANS // 3, receiver_down_for_a_while
    )
    assert at_strike.succeeded < PLANS
    # then deliveries did fail meanwhile (and were retried until they succeeded)
    assert stack.failed_attempts() > 0
