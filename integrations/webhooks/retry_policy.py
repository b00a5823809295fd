"""The retry policy of webhook deliveries, every case by name: what an attempt's answer means
for the delivery (succeeded, retried after a delay, failed, or its endpoint disabled)."""

import random
from collections.abc import Sequence
from dataclasses import dataclass

from integrations.models import (
    AttemptOutcome,
)
from integrations.webhooks import transport

__all__ = ["Decision", "decide"]


@dataclass(frozen=True)
class Decision:
    outcome: str  # an AttemptOutcome
    delay: float | None = None  # seconds until the next attempt (RETRY only)
    reason: str = ""


def decide(
    response: transport.Response,
    attempts_in_round: int,
    *,
    schedule: Sequence[float],
    jitter: float = 0.0,
    max_retry_after: float = float("inf"),
    rng: random.Random | None = None,
) -> Decision:
    """The retry policy, every case by name. `attempts_in_round` counts this attempt."""
    status = response.status_code
    if response.refused:
        return Decision(AttemptOutcome.FAILED, reason="refused by the SSRF guard; not retried")
    if status is not None and 200 <= status < 300:
        return Decision(AttemptOutcome.SUCCEEDED)
    if status == 410:
        return Decision(AttemptOutcome.DISABLED, reason="410 Gone: the endpoint is retired")
    if attempts_in_round > len(schedule):
        return Decision(AttemptOutcome.FAILED, reason="retries exhausted")
    if status in (429, 503) and response.retry_after is not None:
        return Decision(
            AttemptOutcome.RETRY,
            delay=min(response.retry_after, max_retry_after),
            reason=f"{status}: Retry-After honoured",
        )
    # Anything else (3xx, 4xx, 5xx, timeouts, connection errors) follows the schedule.
    step = schedule[attempts_in_round - 1]
    factor = 1.0 + (rng or random).uniform(-jitter, jitter) if jitter else 1.0
    return Decision(AttemptOutcome.RETRY, delay=max(0.0, step * factor), reason="scheduled")
