"""The loop of the webhook fan-out's durable JetStream consumer (bus/webhook_fanout.py),
and the fetch that the inbound one (bus/fair_consumer.py) shares.

The asyncio loop fetches a batch and hands it to one worker thread (Django's database work is
synchronous), then settles each message with what the thread answered for it. Messages are
settled only after the thread returns, that is after its commit: a consumer killed in between
gets them redelivered.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import nats
from django.conf import settings
from django.db import InterfaceError, OperationalError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bus import client as bus_client

__all__ = [
    "FETCH_TIMEOUT_SECONDS",
    "RETRY_PAUSE_SECONDS",
    "TRANSIENT_ERRORS",
    "fetch_batch",
    "run_pull_consumer",
]

logger = logging.getLogger(__name__)

# Seconds one fetch waits for messages before the loop checks whether it should stop.
FETCH_TIMEOUT_SECONDS = 1.0
# Seconds between attempts to reach NATS after a failed fetch.
RETRY_PAUSE_SECONDS = 2.0
# Database errors worth a retry: the database was unreachable, or the transaction lost a race.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

Result = TypeVar("Result")


async def run_pull_consumer(
    stop: asyncio.Event,
    *,
    name: str,
    url: str | None,
    ensure: Callable[[JetStreamContext], Awaitable[Any]],
    stream: str,
    durable: str,
    batch_size: int,
    handle: Callable[[list[Msg]], Sequence[Result]],
    settle: Callable[[Client, Msg, Result], Awaitable[None]],
    failed: Result,
    gather_seconds: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Run until `stop` is set: fetch up to `batch_size` messages (waiting `gather_seconds`
    for more when fewer came), `handle` them in the worker thread (one result per message;
    `failed` for each if it raises), `settle` each. Reconnects on its own."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    nc = await bus_client.connect(url or settings.NATS_URL, name=name, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        await ensure(js)
        sub = await js.pull_subscribe_bind(durable, stream)
        while not stop.is_set():
            msgs = await fetch_batch(sub, batch_size, FETCH_TIMEOUT_SECONDS)
            if msgs is None:
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                continue
            if not msgs:
                continue
            if gather_seconds and len(msgs) < batch_size:
                # A trickle: a moment more lets one commit serve several messages.
                await asyncio.sleep(gather_seconds)
                msgs += await fetch_batch(sub, batch_size - len(msgs), gather_seconds) or []
            try:
                results = await loop.run_in_executor(executor, handle, msgs)
            except Exception:  # a bug: leave the batch for redelivery, keep consuming
                logger.exception("%s: handling a batch of %d failed", name, len(msgs))
                results = [failed] * len(msgs)
            for msg, result in zip(msgs, results, strict=True):
                try:
                    await settle(nc, msg, result)
                except Exception:  # one message's settling must never stop the consumer
                    logger.warning("Could not settle %s", msg.subject, exc_info=True)
            try:
                await nc.flush()
            except (TimeoutError, nats.errors.Error):
                # NATS went away after the commit (a restart): the loop must live on, as it
                # does when a fetch fails. Acks that never reached the server mean those
                # messages come again, and their commit makes them counted copies.
                logger.warning("%s: acks not flushed; retrying with the next batch", name)
            if on_batch is not None:
                on_batch(len(msgs))
    finally:
        # close, not drain: acks were flushed after each batch, and draining the pull
        # subscription would wait out its pending fetch request (up to 30 s).
        await nc.close()
        executor.shutdown(wait=True)


async def fetch_batch(sub, count: int, timeout: float) -> list[Msg] | None:
    """Up to `count` messages; [] when none came, None when the fetch failed."""
    try:
        return await sub.fetch(count, timeout=timeout)
    except TimeoutError:  # idle (nats-py raises its own subclass or asyncio's plain one)
        return []
    except Exception:
        logger.warning("fetch failed; retrying", exc_info=True)
        return None
