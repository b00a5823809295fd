"""Handing accepted events to the rules, after (and only after) their commit.

The on-commit hook queues the Celery task integrations.hand_to_rules (integrations/tasks.py)
for the committed events; a worker runs it: it evaluates the rules for every plan they target
(rules/services.py), then records that the events are done (`ready_at`). An event whose hook
never ran (the process died right after the commit, the broker was down) or whose evaluation
failed keeps `ready_at` empty; beat's `sweep()` queues it again. Evaluation is once per event
and plan, so a second run changes nothing.
"""

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.db import OperationalError, connection, transaction
from django.utils import timezone

__all__ = ["after_commit", "collect", "finish", "hand_to_rules", "mark_ready", "sweep"]

logger = logging.getLogger(__name__)
_local = threading.local()
# One array parameter, not one per id: a batch hands over hundreds at once.
READY_SQL = "UPDATE {table} SET ready_at = now() WHERE id = ANY(%s) AND ready_at IS NULL"
# Tries at marking events ready: a deadlock victim (a consumer counting duplicates on the same
# rows) succeeds on the next try.
READY_ATTEMPTS = 5


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
        hand_to_rules(stale)
    return len(stale)


def hand_to_rules(event_ids: list[uuid.UUID]) -> None:
    """The on-commit hook: queue the task. It must never raise into the caller, since the
    events are committed and a caller that saw an error would process them again."""
    from integrations.tasks import hand_to_rules as task

    try:
        task.delay([str(event_id) for event_id in event_ids])
    except Exception:
        logger.exception("Could not queue %d inbound events for the rules", len(event_ids))


def after_commit(event_id: uuid.UUID) -> None:
    """Hand `event_id` over once the current transaction commits (never if it rolls back)."""
    collected = getattr(_local, "collected", None)
    if collected is not None:
        collected.append(event_id)
    else:
        transaction.on_commit(partial(hand_to_rules, [event_id]), robust=True)


@contextmanager
def collect() -> Iterator[None]:
    """Inside a transaction: hand over every event accepted in the block with one task, after
    the commit (a batch of NATS messages would otherwise queue one task each)."""
    _local.collected = collected = []
    try:
        yield
    finally:
        _local.collected = None
    if collected:
        transaction.on_commit(partial(hand_to_rules, collected), robust=True)
