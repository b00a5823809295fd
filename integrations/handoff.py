"""Handing accepted events to the rules, after (and only after) their commit.

The on-commit hook gives the committed events to this process's courier, a background thread
that queues the Celery task integrations.hand_to_rules (integrations/tasks.py) for everything
committed within HANDOFF_LINGER_SECONDS: one broker publish for many REST requests, instead of
one each (the publish cost more than the rest of the request). A worker runs the task: it
evaluates the rules for every plan they target (rules/services.py), then records that the events
are done (`ready_at`). An event whose hook never ran (the process died right after the commit,
the broker was down) or whose evaluation failed keeps `ready_at` empty; beat's `sweep()` queues
it again. Evaluation is once per event and plan, so a second run changes nothing.
"""

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.db import OperationalError, connection, transaction
from django.utils import timezone

__all__ = [
    "Courier",
    "after_commit",
    "finish",
    "hand_to_rules",
    "mark_ready",
    "queue_task",
    "sweep",
]

logger = logging.getLogger(__name__)
# One array parameter, not one per id: a batch hands over hundreds at once.
READY_SQL = "UPDATE {table} SET ready_at = now() WHERE id = ANY(%s) AND ready_at IS NULL"
# Tries at marking events ready: a deadlock victim (a consumer counting duplicates on the same
# rows) succeeds on the next try.
READY_ATTEMPTS = 5
# How long the courier gathers committed events into one task: the rules start at most this
# much later, and a busy web worker pays for a fraction of a broker publish per request.
HANDOFF_LINGER_SECONDS = 0.02
# Bounds one task's arguments (the ids travel in the message).
HANDOFF_MAX_BATCH = 1000
# How long a stopping process waits for the courier's last publish.
HANDOFF_FLUSH_SECONDS = 5


def mark_ready(event_ids: list[uuid.UUID]) -> int:
    """Record that the rules are done with the events (run by the worker); how many were new."""
    from integrations.models import InboundEvent

    def mark() -> int:
        with connection.cursor() as cursor:
            cursor.execute(READY_SQL.format(table=InboundEvent._meta.db_table), [event_ids])
            return cursor.rowcount

    for _attempt in range(READY_ATTEMPTS - 1):
        try:
            return mark()
        except OperationalError:
            pass  # a deadlock victim: the next try succeeds
    return mark()


def finish(event_ids: list[uuid.UUID]) -> int:
    """The worker's part: evaluate the rules for every plan the events target, then record
    that they are done (an evaluation that raised leaves `ready_at` empty for the sweep).
    How many were new."""
    from rules.services import evaluate_inbound_events

    evaluate_inbound_events(event_ids)
    return mark_ready(event_ids)


def sweep(older_than_seconds: float, limit: int = 1000) -> int:
    """Queue again the accepted events the rules have not finished with although they were
    received more than `older_than_seconds` ago; how many."""
    from integrations.models import InboundEvent, InboundStatus

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = list(
        InboundEvent.objects.filter(
            status=InboundStatus.ACCEPTED, ready_at__isnull=True, received_at__lt=cutoff
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    if stale:
        logger.warning("Handing %d inbound events to the rules again", len(stale))
        queue_task(stale)
    return len(stale)


def queue_task(event_ids: list[uuid.UUID]) -> None:
    """Queue the rules task for `event_ids` now. Never raises: the events are committed, and a
    caller that saw an error would process them again; the sweep recovers a failed queueing."""
    from integrations.tasks import hand_to_rules as task

    try:
        task.delay([str(event_id) for event_id in event_ids])
    except Exception:
        logger.exception("Could not queue %d inbound events for the rules", len(event_ids))


class Courier:
    """One background thread per process that queues hand-off tasks in batches. Started on
    first use in each process (gunicorn and Celery fork theirs after import); a process that
    stops flushes what is left, and one that is killed leaves it to the sweep."""

    _STOP = object()

    def __init__(self, deliver: Callable[[list[uuid.UUID]], None]) -> None:
        self._deliver = deliver
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def send(self, event_ids: list[uuid.UUID]) -> None:
        if self._pid != os.getpid():
            self._start()
        self._queue.put(event_ids)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # A forked child inherits the parent's queue and a thread that does not run here.
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(
                target=self._run, args=(self._queue,), name="healix-handoff", daemon=True
            )
            self._thread.start()
            self._pid = os.getpid()
            atexit.register(self.flush)

    def _run(self, pending: queue.SimpleQueue) -> None:
        stopping = False
        while not stopping:
            first = pending.get()
            if first is self._STOP:
                return
            batch = list(first)
            deadline = time.monotonic() + HANDOFF_LINGER_SECONDS
            while len(batch) < HANDOFF_MAX_BATCH:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    more = pending.get(timeout=remaining)
                except queue.Empty:
                    break
                if more is self._STOP:
                    stopping = True
                    break
                batch.extend(more)
            self._deliver(batch)

    def flush(self) -> None:
        """Queue everything handed over so far before this process exits."""
        if self._pid != os.getpid() or self._thread is None:
            return
        self._queue.put(self._STOP)
        self._thread.join(HANDOFF_FLUSH_SECONDS)
        leftover: list[uuid.UUID] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not self._STOP:
                leftover.extend(item)
        if leftover:
            self._deliver(leftover)
        self._pid = None


_courier = Courier(queue_task)


def hand_to_rules(event_ids: list[uuid.UUID]) -> None:
    """The on-commit hook: the courier queues the task shortly."""
    _courier.send(event_ids)


def after_commit(event_id: uuid.UUID) -> None:
    """Hand `event_id` over once the current transaction commits (never if it rolls back); the
    courier gathers the events of a whole batch, or of many requests, into one task."""
    transaction.on_commit(partial(hand_to_rules, [event_id]), robust=True)
