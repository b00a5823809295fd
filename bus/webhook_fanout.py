"""The healix-webhooks consumer of `manage.py consume_bus`: system events -> deliveries.

A durable pull consumer on HEALIX_EVENTS. Each fetched batch is fanned out in one transaction
(integrations/webhooks/fanout.py), the delivery tasks are queued after the commit, and only then are
the messages acked: a consumer killed in between gets the batch again, and the unique
(integration, event) key turns the second fan-out into a no-op.
"""

import asyncio
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bus.pull_loop import TRANSIENT_ERRORS, run_pull_consumer
from bus.topology import EVENT_SUBJECTS, ensure_events_stream, ensure_webhooks_consumer
from integrations.webhooks.fanout import OutgoingEvent, fan_out_and_queue, parse_event

__all__ = [
    "consume_webhooks",
    "process_events",
]

logger = logging.getLogger(__name__)

NAK_DELAY_SECONDS = 5.0
# After a fetch that was not full, wait this long for more before fanning out: at a steady
# trickle (say 200 events/s) one transaction and one Celery task then carry several events
# instead of one each, which is what keeps the worker's queue short. Costs at most this much
# latency.
GATHER_SECONDS = 0.01


def process_events(bodies: list[bytes]) -> list[bool]:
    """Fan the batch out; per message True to ack (done, or not an event of ours) or False
    to nak (a transient database error: try again later)."""
    close_old_connections()
    events: list[OutgoingEvent] = []
    for body in bodies:
        event = parse_event(body)
        if event is None:
            # Only the relay publishes here; a body that is no envelope is a bug to look at.
            logger.error("Not a Healix event on %s: %r", EVENT_SUBJECTS, body[:200])
        else:
            events.append(event)
    try:
        fan_out_and_queue(events)
    except TRANSIENT_ERRORS:
        logger.warning("Webhook fan-out of %d events failed; nak", len(events), exc_info=True)
        close_old_connections()
        return [False] * len(bodies)
    return [True] * len(bodies)


async def _settle(_nc, msg: Msg, ok: bool) -> None:
    await (msg.ack() if ok else msg.nak(delay=NAK_DELAY_SECONDS))


async def _ensure(js: JetStreamContext) -> None:
    await ensure_events_stream(js)
    await ensure_webhooks_consumer(js)


async def consume_webhooks(
    stop: asyncio.Event,
    *,
    url: str | None = None,
    batch_size: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Run until `stop` is set: fetch, fan out, ack (bus/pull_loop.py)."""
    logger.info("fanning out %s to HTTP integrations", EVENT_SUBJECTS)
    await run_pull_consumer(
        stop,
        name="healix-webhooks",
        url=url,
        ensure=_ensure,
        stream=settings.HEALIX_EVENTS_STREAM,
        durable=settings.HEALIX_WEBHOOKS_CONSUMER,
        batch_size=batch_size or settings.HEALIX_WEBHOOKS_BATCH,
        handle=lambda msgs: process_events([msg.data for msg in msgs]),
        settle=_settle,
        failed=False,  # nak: the batch comes back
        gather_seconds=GATHER_SECONDS,
        on_batch=on_batch,
    )
