"""The relay: publishes outbox rows to JetStream, then marks them published.

Its queue is OutboxPending (a row per waiting event, written by emit() with the event); the
mark turns pending rows into OutboxPublication rows and never writes the outbox row itself
(events/sql.py, docs/performance.md "The relay's profile").

One loop, asyncio (nats-py is asyncio), raw psycopg for its few statements.

Several relays may run; one publishes. Each holds its database session's advisory lock
RELAY_LOCK_KEY while active: the others find it taken and stand by, trying again at every
wake-up. A relay that dies loses its session, hence the lock, and a standby takes over at once.
One publisher reading in id order means no row is claimed twice, no claim is written, and the
events of a plan go out in id order, which emit() made their commit order.

Each round: read up to `batch_size` pending rows in id order (no transaction kept open),
publish them asynchronously (header Nats-Msg-Id = eventId, Healix-Trace-Id), await the acks,
then mark the acked rows published. Rows not acked stay pending, their attempts and error
counted, and are retried with backoff. A relay that dies between the acks and the mark
leaves its batch pending: the next relay publishes it again and JetStream drops the copies
(same Nats-Msg-Id, within the stream's duplicate window).

It wakes on NOTIFY (sent by the database at commit, migration 0002), when NATS reconnects, and
sweeps every `sweep_seconds` regardless.
"""

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.conf import settings
from nats.aio.client import Client as NatsClient
from nats.js.api import PubAck

from bus.client import servers as bus_servers
from events.sql import CLAIM_SQL, FAILED_SQL, LISTEN_SQL, MARK_SQL
from healix.leader import TCP_KEEPALIVES, database_params
from healix.observability import metrics
from healix.observability.logcontext import bind
from healix.observability.tracing import TRACE_HEADER, trace
from healix.sql import ADVISORY_LOCK_SQL

__all__ = [
    "ClaimedEvent",
    "PublishFailed",
    "Relay",
    "RelayConfig",
    "RelayStats",
    "Standby",
    "backoff_delay",
]

logger = logging.getLogger(__name__)

# The active relay's session-level advisory lock (an arbitrary key, unique within Healix).
RELAY_LOCK_KEY = 0x4845_4C58_0001
# Seconds to wait for a batch's acks: a healthy server acks thousands in milliseconds, so this
# only trips when the server or the route to it is gone.
ACK_TIMEOUT_SECONDS = 5.0
# Retry delays after failures: from half a second, doubling, at most 30 s (plus jitter, so
# several relays do not retry in step).
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# The client name the relay shows in the server's connection list.
NATS_CLIENT_NAME = "healix-relay"
# Seconds one attempt to reach NATS may take before the loop backs off and tries again.
NATS_CONNECT_TIMEOUT_SECONDS = 5.0


def backoff_delay(failures: int, jitter: float = 0.1) -> float:
    """Seconds to wait after `failures` consecutive failures (1, 2, ...)."""
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, failures - 1))
    return delay * (1 + random.uniform(0, jitter))


@dataclass(frozen=True)
class RelayConfig:
    nats_url: str
    db_params: dict[str, Any]
    batch_size: int
    sweep_seconds: float
    ack_timeout: float = ACK_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, **overrides: Any) -> "RelayConfig":
        values = {
            "nats_url": settings.NATS_URL,
            "db_params": database_params(),
            "batch_size": settings.HEALIX_EVENTS_RELAY_BATCH,
            "sweep_seconds": settings.HEALIX_EVENTS_RELAY_SWEEP_SECONDS,
        }
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    subject: str
    event_id: uuid.UUID
    trace_id: str
    payload: str


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0  # acks JetStream flagged as duplicate: a re-publish it dropped
    failed_batches: int = 0


class PublishFailed(Exception):
    """Some rows of a batch were not acked; they stay unpublished for a retry."""


class Standby(Exception):
    """Another relay is active; this one waits."""


@dataclass
class Relay:
    config: RelayConfig
    relay_id: uuid.UUID = field(default_factory=uuid.uuid4)
    stats: RelayStats = field(default_factory=RelayStats)
    active: bool = False
    _db: psycopg.AsyncConnection | None = None
    _nc: NatsClient | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _listener: asyncio.Task | None = None
    _said_standby: bool = False
    # Acked by JetStream but not yet marked published (the database failed meanwhile). Kept
    # across rounds and marked first, so an outage longer than the stream's duplicate window
    # cannot make them go out twice.
    _acked_unmarked: list[int] = field(default_factory=list)

    # --- connections ------------------------------------------------------------------------

    async def _database(self) -> psycopg.AsyncConnection:
        if self._db is None or self._db.closed or self._db.broken:
            self.active = False  # a new session holds no lock
            self._db = await psycopg.AsyncConnection.connect(
                **self.config.db_params, **TCP_KEEPALIVES, autocommit=True
            )
        return self._db

    async def _activate(self) -> psycopg.AsyncConnection:
        """The session, once it holds the relay lock; Standby while another relay holds it."""
        db = await self._database()
        if not self.active:
            cursor = await db.execute(ADVISORY_LOCK_SQL, [RELAY_LOCK_KEY])
            self.active = (await cursor.fetchone())[0]
            if not self.active:
                if not self._said_standby:
                    logger.info("relay %s: standing by (another relay is active)", self.relay_id)
                    self._said_standby = True
                raise Standby("another relay is active")
            logger.info("relay %s: active", self.relay_id)
        return db

    async def _nats(self) -> NatsClient:
        if self._nc is None or self._nc.is_closed:
            client = NatsClient()
            try:
                # Once connected, the client reconnects forever by itself; the first connect
                # is bounded here so the loop can back off (and stop) meanwhile.
                await asyncio.wait_for(
                    client.connect(
                        servers=bus_servers(self.config.nats_url),
                        name=NATS_CLIENT_NAME,
                        max_reconnect_attempts=-1,
                        error_cb=_log_nats_error,
                        reconnected_cb=self._on_reconnected,
                    ),
                    NATS_CONNECT_TIMEOUT_SECONDS,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.close()
                raise
            self._nc = client
        return self._nc

    async def _on_reconnected(self) -> None:
        # NATS is back: publish what waited now rather than at the end of the backoff.
        logger.info("relay: reconnected to NATS")
        self._wake.set()

    async def _listen(self) -> None:
        """Set the wake event on each NOTIFY; on (re)connect, once, for what was missed."""
        async with await psycopg.AsyncConnection.connect(
            **self.config.db_params, **TCP_KEEPALIVES, autocommit=True
        ) as connection:
            await connection.execute(LISTEN_SQL)
            self._wake.set()
            async for _notify in connection.notifies():
                self._wake.set()

    def _ensure_listener(self) -> None:
        if self._listener is not None and self._listener.done():
            if not self._listener.cancelled() and self._listener.exception() is not None:
                logger.warning("relay: LISTEN connection lost: %s", self._listener.exception())
            self._listener = None
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.close()  # every publish was awaited: nothing to drain
        if self._db is not None and not self._db.closed:
            await self._db.close()

    # --- one batch --------------------------------------------------------------------------

    async def claim(self, exclude: Collection[int] = ()) -> list[ClaimedEvent]:
        """The next unpublished rows in id order, but `exclude` (published, not yet marked).
        Only the active relay reads them."""
        db = await self._activate()
        cursor = await db.execute(
            CLAIM_SQL, {"batch": self.config.batch_size, "exclude": list(exclude)}
        )
        return [ClaimedEvent(*row) for row in await cursor.fetchall()]

    async def publish(self, events: list[ClaimedEvent]) -> tuple[list[int], str | None]:
        """Publish `events` in order and await the acks: the acked ids, and an error if any
        event was not acked."""
        js = (await self._nats()).jetstream()
        futures: list[asyncio.Future[PubAck]] = []
        error = None
        for event in events:
            headers = {"Nats-Msg-Id": str(event.event_id), TRACE_HEADER: event.trace_id}
            try:
                futures.append(
                    await js.publish_async(event.subject, event.payload.encode(), headers=headers)
                )
            except Exception as exc:  # the rest of the batch waits for the retry
                error = f"publish: {exc!r}"
                break
        if futures:
            _done, pending = await asyncio.wait(futures, timeout=self.config.ack_timeout)
            for future in pending:
                future.cancel()
        acked = []
        for event, future in zip(events, futures, strict=False):
            if future.cancelled():
                error = error or f"no ack within {self.config.ack_timeout}s"
            elif future.exception() is not None:
                error = error or f"ack: {future.exception()!r}"
            else:
                acked.append(event.id)
                self.stats.duplicates += bool(future.result().duplicate)
                _log_published(event, bool(future.result().duplicate))
        return acked, error

    async def mark_published(self, ids: list[int]) -> None:
        db = await self._database()
        metrics.count_published(await (await db.execute(MARK_SQL, {"ids": ids})).fetchall())

    async def record_failure(self, ids: list[int], error: str) -> None:
        db = await self._database()
        await db.execute(FAILED_SQL, {"ids": ids, "error": error[:1000]})

    async def _mark(self, ids: list[int]) -> None:
        if ids:
            await self.mark_published(ids)
            self.stats.published += len(ids)

    async def drain(self) -> int:
        """Publish until nothing waits; how many were published.

        Pipelined for throughput: batch k is marked while batch k+1 is published, so the
        database's work and NATS's overlap. Raises PublishFailed when some rows were not acked
        (they stay unpublished; the acked ones are marked), Standby when another relay is active.
        """
        before = self.stats.published
        pending = self._acked_unmarked  # acked, not yet marked
        self._acked_unmarked = []
        try:
            while True:
                if not (await self._nats()).is_connected:
                    raise PublishFailed("not connected to NATS")  # reconnecting: try later
                events = await self.claim(exclude=pending)
                if not events:
                    break
                (acked, error), _ = await asyncio.gather(self.publish(events), self._mark(pending))
                pending = acked
                if error is not None:
                    acked_ids = set(acked)
                    failed = [event.id for event in events if event.id not in acked_ids]
                    await self.record_failure(failed, error)
                    raise PublishFailed(error)
                if len(events) < self.config.batch_size:
                    # Nothing else was pending: no second claim just to find that out (a
                    # trickle of commits wakes the relay once each). A row committed since
                    # has notified, and the next round takes it.
                    break
        finally:
            try:
                await self._mark(pending)
            except BaseException:
                self._acked_unmarked = pending
                raise
        return self.stats.published - before

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: on every wake-up, and every sweep_seconds regardless."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self._ensure_listener()
                    self._wake.clear()
                    await self.drain()
                    failures = 0
                    delay = self.config.sweep_seconds
                except Standby:
                    failures = 0
                    delay = self.config.sweep_seconds
                except Exception as exc:  # NATS or PostgreSQL away: the rows wait
                    failures += 1
                    delay = backoff_delay(failures)
                    self.stats.failed_batches += 1
                    logger.warning("relay: %s; retrying in %.1fs", exc, delay)
                    await self._forget_broken_database()
                    self._wake.clear()  # a commit must not cut the backoff short
                await _wait_any(stop, self._wake, delay)
        finally:
            await self.close()

    async def _forget_broken_database(self) -> None:
        if self._db is not None and self._db.broken:
            with contextlib.suppress(Exception):
                await self._db.close()
            self._db = None
            self.active = False


def _log_published(event: ClaimedEvent, duplicate: bool) -> None:
    if not logger.isEnabledFor(logging.INFO):  # the context below costs a few us per event
        return
    org_slug = event.subject.split(".")[1]  # healix.<orgId>.<type>
    with trace(event.trace_id), bind(org_id=org_slug, event_id=event.event_id):
        extra = {"subject": event.subject, "duplicate": duplicate}
        logger.info("System event published to %s", event.subject, extra=extra)


async def _log_nats_error(error: Exception) -> None:
    logger.warning("relay: NATS: %r", error)


async def _wait_any(first: asyncio.Event, second: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
