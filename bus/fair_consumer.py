"""consume_bus's inbound loop: one pull subscription per organization's stream, served in turn.

With one queue for every organization, 5,000 junk messages of one organization delayed
another's next message until all of them were through. Here each stream's fetcher holds at
most one batch at a time (waiting in the queue, or in a worker thread), and batches wait in
the order they came: an organization's backlog is one batch ahead of another's new message,
never the whole backlog. HEALIX_INBOUND_WORKERS threads ingest batches of different streams
side by side, so another organization's batch does not even wait for that one.

As in consumers.py, messages are settled only after their thread committed them: a consumer
killed in between gets them redelivered.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from bus.pull_loop import FETCH_TIMEOUT_SECONDS, RETRY_PAUSE_SECONDS, fetch_batch

__all__ = ["FairConsumer", "Source"]

logger = logging.getLogger(__name__)

# Messages settled before the loop lets other batches' work run.
SETTLE_TURN = 50
# Seconds a batch may wait for a worker before its messages are marked in progress: the
# server redelivers a message not acked within the consumer's ack wait (30 s, streams.py), to
# another consume_bus, and a queue of many organizations' batches must not make that happen.
IN_PROGRESS_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class Source:
    stream: str
    # Delete the stream once it holds nothing more (the retired shared stream, streams.py).
    drain: bool = False


@dataclass
class _Batch:
    msgs: list[Msg]
    settled: asyncio.Future  # the fetcher waits on it before it fetches again
    fetched_at: float = field(default_factory=time.monotonic)


class FairConsumer:
    """Fetches from every followed stream's durable consumer `durable`; `handle` (in a worker
    thread) answers one result per message, which `settle` then acts on."""

    def __init__(
        self,
        nc: Client,
        *,
        name: str,
        durable: str,
        batch_size: int,
        workers: int,
        handle: Callable[[list[Msg]], Sequence[Any]],
        settle: Callable[[Client, Msg, Any], Awaitable[None]],
        failed: Any,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.name = name
        self.durable = durable
        self.batch_size = batch_size
        self.workers = workers
        self.handle = handle
        self.settle = settle
        self.failed = failed
        self.on_batch = on_batch
        self._ready: asyncio.Queue[_Batch] = asyncio.Queue()
        self._sources: dict[str, Source] = {}
        self._drained: set[str] = set()  # streams deleted once drained: never followed again
        self._fetchers: dict[str, asyncio.Task] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(
        self,
        stop: asyncio.Event,
        sources: Callable[[], Awaitable[list[Source]]],
        refresh_seconds: float,
    ) -> None:
        """Until `stop` is set: follow what `sources` names, asking it again every
        `refresh_seconds` (new organizations), and ingest what comes."""
        workers = [asyncio.create_task(self._work(stop)) for _ in range(self.workers)]
        try:
            while not stop.is_set():
                try:
                    for source in await sources():
                        if source.stream not in self._drained:
                            self._sources[source.stream] = source
                except Exception:  # NATS or the database away: the next look tries again
                    logger.warning("%s: could not look for new streams", self.name, exc_info=True)
                for source in self._sources.values():
                    self._follow(source)  # again, if its fetcher failed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), refresh_seconds)
        finally:
            for fetcher in self._fetchers.values():
                fetcher.cancel()
            await asyncio.gather(*workers, return_exceptions=True)  # each ends its batch in hand
            await self._give_back()
            await asyncio.gather(*self._fetchers.values(), return_exceptions=True)
            self._executor.shutdown(wait=True)

    def _follow(self, source: Source) -> None:
        fetcher = self._fetchers.get(source.stream)
        if fetcher is None or fetcher.done():
            self._fetchers[source.stream] = asyncio.create_task(self._fetch(source))

    async def _fetch(self, source: Source) -> None:
        try:
            sub = await self.js.pull_subscribe_bind(self.durable, source.stream)
            while True:
                msgs = await fetch_batch(sub, self.batch_size, FETCH_TIMEOUT_SECONDS)
                if msgs is None:
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                elif msgs:
                    batch = _Batch(msgs, asyncio.get_running_loop().create_future())
                    self._ready.put_nowait(batch)
                    await batch.settled
                elif source.drain and await self._drain_done(source.stream):
                    self._drained.add(source.stream)
                    del self._sources[source.stream]
                    return
        except Exception:  # followed again at the next look for streams
            logger.warning("%s: fetching from %s failed", self.name, source.stream, exc_info=True)

    async def _drain_done(self, stream: str) -> bool:
        """Delete `stream` if its consumer has nothing left to deliver or to be acked."""
        try:
            info = await self.js.consumer_info(stream, self.durable)
        except NotFoundError:
            try:
                await self.js.stream_info(stream)
            except NotFoundError:
                return True  # another consume_bus deleted it
            logger.error("%s: %s has no consumer %s; not drained", self.name, stream, self.durable)
            return True
        except Exception:
            return False
        if info.num_pending or info.num_ack_pending:
            return False
        with contextlib.suppress(NotFoundError):
            await self.js.delete_stream(stream)
            logger.info("%s: %s drained and deleted", self.name, stream)
        return True

    async def _work(self, stop: asyncio.Event) -> None:
        while (batch := await _next(self._ready, stop)) is not None:
            try:
                if time.monotonic() - batch.fetched_at > IN_PROGRESS_AFTER_SECONDS:
                    for msg in batch.msgs:
                        await msg.in_progress()
                await self._ingest(batch.msgs)
            except Exception:  # never lose a worker: the batch comes again if unsettled
                logger.exception("%s: a batch of %d failed", self.name, len(batch.msgs))
            finally:
                if not batch.settled.done():  # (cancelled with its fetcher at a stop)
                    batch.settled.set_result(None)

    async def _ingest(self, msgs: list[Msg]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self.handle, msgs)
        except Exception:  # a bug: leave the batch for redelivery, keep consuming
            logger.exception("%s: handling a batch of %d failed", self.name, len(msgs))
            results = [self.failed] * len(msgs)
        for number, (msg, result) in enumerate(zip(msgs, results, strict=True), 1):
            try:
                await self.settle(self.nc, msg, result)
            except Exception:  # one message's settling must never stop the consumer
                logger.warning("Could not settle %s", msg.subject, exc_info=True)
            if number % SETTLE_TURN == 0:
                # An ack never waits, so a big batch would hold the loop until all are
                # out: another organization's batch is handed on and answered meanwhile.
                await asyncio.sleep(0)
        try:
            await self.nc.flush()
        except (TimeoutError, nats.errors.Error):
            # NATS went away after the commit: acks that never reached the server mean those
            # messages come again, and their commit makes them counted copies.
            logger.warning("%s: acks not flushed; they come again", self.name)
        if self.on_batch is not None:
            self.on_batch(len(msgs))

    async def _give_back(self) -> None:
        """Batches fetched but never handed to a thread go back to the server now, not after
        the ack wait."""
        while not self._ready.empty():
            batch = self._ready.get_nowait()
            for msg in batch.msgs:
                with contextlib.suppress(Exception):
                    await msg.nak()
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await self.nc.flush()


async def _next(ready: asyncio.Queue[_Batch], stop: asyncio.Event) -> _Batch | None:
    """The next batch, or None once `stop` is set."""
    if stop.is_set():
        return None
    getting = asyncio.ensure_future(ready.get())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()
    return None
