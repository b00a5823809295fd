"""Queueing accepted inbound events for the rules, in batches, after their commit.

ingest() calls `queue_after_commit`: once the transaction commits, this process's batcher, a
background thread, queues one task rules.tasks.evaluate_inbound_events (rules/inbound.py does
the work) for everything committed within BATCH_LINGER_SECONDS: one broker publish for many REST
requests, instead of one each (docs/performance.md, "Measured decisions"). An event whose
queueing is lost is found by beat's sweep.
"""

import atexit
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial

from django.db import transaction

from rules.inbound import queue_evaluation

__all__ = ["BATCH_MAX_EVENTS", "EvaluationBatcher", "queue_after_commit"]

# How long the batcher gathers committed events into one task: the rules start at most this
# much later, and a busy web worker pays for a fraction of a broker publish per request.
BATCH_LINGER_SECONDS = 0.02
# Bounds one task's arguments (the ids travel in the message).
BATCH_MAX_EVENTS = 1000
# How long a stopping process waits for the batcher's last publish.
BATCH_FLUSH_SECONDS = 5


class EvaluationBatcher:
    """One background thread per process that queues the rules task for committed events in
    batches. Started on
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
                target=self._run, args=(self._queue,), name="healix-rules-batcher", daemon=True
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
            deadline = time.monotonic() + BATCH_LINGER_SECONDS
            while len(batch) < BATCH_MAX_EVENTS:
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
        self._thread.join(BATCH_FLUSH_SECONDS)
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


_batcher = EvaluationBatcher(queue_evaluation)


def _send_to_batcher(event_ids: list[uuid.UUID]) -> None:
    _batcher.send(event_ids)


def queue_after_commit(event_ids: list[uuid.UUID]) -> None:
    """Hand `event_ids` over once the current transaction commits (never if it rolls back);
    the batcher gathers the events of many batches or requests into one task. One hook for a
    whole batch, not one per event (docs/performance.md, "Measured decisions")."""
    if event_ids:
        transaction.on_commit(partial(_send_to_batcher, event_ids), robust=True)
