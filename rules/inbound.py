"""Accepted inbound events, evaluated by the rules: the worker's part, the sweep, the re-run.

An accepted event is queued for the rules after its commit (rules/inbound_batching.py); a
worker runs the task rules.tasks.evaluate_inbound_events: it evaluates the rules for every plan
the events target (rules/services.py), then records that the rules are done with them
(`rules_done_at`). An event whose queueing never happened (the process died right after the
commit, the broker was down) or whose evaluation failed keeps `rules_done_at` empty; beat's
`sweep_unfinished()` queues it again. Evaluation is once per event and plan, so a second run
changes nothing.

Failures stay with their event: an action that fails is recorded in its evaluation and the
event is done; an event that fails as a whole keeps its reason (`rules_error`) and the other
events of the task go on. The sweep takes the organizations in turn, leaves an event alone for
a delay that doubles with each retry (`retry_delay`) and gives up after HANDOFF_MAX_RETRIES:
the event stays visible (admin, operations) until an administrator hands it over again.
"""

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from functools import partial

from django.db import OperationalError, transaction
from django.db.models import Case, F, Q, Value, When, Window
from django.db.models.functions import Now, RowNumber
from django.utils import timezone

from healix.celery import app
from integrations.models import InboundEvent, InboundStatus

__all__ = [
    "HANDOFF_MAX_RETRIES",
    "due_events",
    "hand_over_again",
    "mark_rules_done",
    "queue_evaluation",
    "record_failures",
    "retry_delay",
    "run_rules",
    "sweep_unfinished",
]

# The task rules/tasks.py registers under this name; queued by name, since the task calls back
# into this module.
EVALUATE_TASK = "rules.evaluate_inbound_events"

logger = logging.getLogger(__name__)
# Tries at marking events done: a deadlock victim (a consumer counting duplicates on the same
# rows) succeeds on the next try.
RULES_DONE_ATTEMPTS = 5
# Events one sweep hands over at most (each organization in turn): what a worker evaluates in
# well under a sweep period, so sweeps never pile up.
HANDOFF_SWEEP_LIMIT = 1000
# Retries by the sweep before an event is given up: with delays doubling from the sweep's
# period up to HANDOFF_RETRY_MAX_DELAY, about three hours at the default period; a blip
# (a deploy, a database failover) is long over by then, a bug is not.
HANDOFF_MAX_RETRIES = 8
HANDOFF_RETRY_MAX_DELAY = timedelta(hours=1)
# A recorded reason is for a person to read; a database error can quote a long value.
MAX_REASON_CHARS = 2000


def mark_rules_done(event_ids: list[uuid.UUID]) -> int:
    """Record that the rules are done with the events (run by the worker); how many were new."""

    def mark() -> int:
        # Done: no failure left to show.
        unfinished = InboundEvent.objects.filter(pk__in=event_ids, rules_done_at__isnull=True)
        return unfinished.update(rules_done_at=Now(), rules_error="")

    for _attempt in range(RULES_DONE_ATTEMPTS - 1):
        try:
            return mark()
        except OperationalError:
            pass  # a deadlock victim: the next try succeeds
    return mark()


def run_rules(event_ids: list[uuid.UUID]) -> int:
    """The worker's part: evaluate the rules for every plan the events target, then record
    that they are done, except those that failed, which keep their reason for the sweep.
    How many were new."""
    from rules.services import evaluate_inbound_events

    outcome = evaluate_inbound_events(event_ids)
    done = mark_rules_done([event_id for event_id in event_ids if event_id not in outcome.failed])
    record_failures(outcome.failed)
    return done


def record_failures(failures: dict[uuid.UUID, str]) -> None:
    """Keep on each event why the rules could not finish with it (the sweep retries it)."""
    for event_id, reason in failures.items():
        reason = reason.replace("\x00", "\\0")[:MAX_REASON_CHARS]  # the reason itself is stored
        unfinished = InboundEvent.objects.filter(pk=event_id, rules_done_at__isnull=True)
        unfinished.update(rules_error=reason)
        retries = InboundEvent.objects.filter(pk=event_id).values_list("rules_retries", flat=True)
        if retries and retries[0] >= HANDOFF_MAX_RETRIES:
            logger.error("The rules gave up on inbound event %s: %s", event_id, reason)


def retry_delay(retries: int, base_seconds: float) -> timedelta:
    """How long the sweep leaves an event alone after handing it over for the `retries`-th
    time: the sweep's period, doubling per retry, at most HANDOFF_RETRY_MAX_DELAY."""
    delay = timedelta(seconds=base_seconds * 2 ** min(max(retries - 1, 0), 30))
    return min(delay, HANDOFF_RETRY_MAX_DELAY)


def _due(now: datetime, older_than_seconds: float) -> Q:
    return Q(
        status=InboundStatus.ACCEPTED,
        rules_done_at__isnull=True,
        received_at__lt=now - timedelta(seconds=older_than_seconds),
        rules_retries__lt=HANDOFF_MAX_RETRIES,
    ) & (Q(rules_retry_at__isnull=True) | Q(rules_retry_at__lte=now))


def due_events(now: datetime, older_than_seconds: float, limit: int) -> list[uuid.UUID]:
    """The events a sweep at `now` hands over, in turns: every organization's oldest due
    event, then every organization's second oldest, ..., at most `limit` in all."""
    turns = Window(RowNumber(), partition_by=F("organization_id"), order_by=F("received_at").asc())
    return list(
        InboundEvent.objects.filter(_due(now, older_than_seconds))
        .annotate(turn=turns)
        .order_by("turn", "received_at")
        .values_list("pk", flat=True)[:limit]
    )


def sweep_unfinished(
    older_than_seconds: float,
    limit: int = HANDOFF_SWEEP_LIMIT,
    now: datetime | None = None,
) -> int:
    """Queue again the accepted events the rules have not finished with although they were
    received more than `older_than_seconds` ago, and whose retry is due: each organization in
    turn (its oldest first), so none is served only after another's backlog, one task per
    organization. Each is counted as a retry and left alone for `retry_delay`. How many."""
    now = now or timezone.now()
    due = _due(now, older_than_seconds)
    chosen = due_events(now, older_than_seconds, limit)
    if not chosen:
        return 0
    with transaction.atomic():
        # Taken again under lock: an overlapping sweep that took them has moved their retry,
        # and one that is done is no longer due. Locks in the consumers' order (their batch
        # counts duplicates on these rows): no deadlock with them.
        claimed = list(
            InboundEvent.objects.select_for_update()
            .filter(due, pk__in=chosen)
            .order_by("organization_id", "subject", "payload_hash")
            .values_list("pk", "organization_id")
        )
        next_try = Case(
            *(
                When(rules_retries=n, then=Value(now + retry_delay(n + 1, older_than_seconds)))
                for n in range(HANDOFF_MAX_RETRIES)
            )
        )
        InboundEvent.objects.filter(pk__in=[pk for pk, _org in claimed]).update(
            rules_retries=F("rules_retries") + 1, rules_retry_at=next_try
        )
    if not claimed:
        return 0
    by_organization: dict[int, list[uuid.UUID]] = defaultdict(list)
    for pk, organization_id in claimed:
        by_organization[organization_id].append(pk)
    logger.warning(
        "Handing %d inbound events of %d organization(s) to the rules again",
        len(claimed),
        len(by_organization),
    )
    for event_ids in by_organization.values():
        queue_evaluation(event_ids)
    return len(claimed)


def hand_over_again(event_ids: list[uuid.UUID]) -> int:
    """An administrator's re-run: the accepted events among `event_ids` the rules are not done
    with (given up or not) start again with no retries counted, queued now. How many."""
    pending = InboundEvent.objects.filter(
        pk__in=event_ids, status=InboundStatus.ACCEPTED, rules_done_at__isnull=True
    )
    chosen = list(pending.values_list("pk", flat=True))
    InboundEvent.objects.filter(pk__in=chosen).update(rules_retries=0, rules_retry_at=None)
    if chosen:
        transaction.on_commit(partial(queue_evaluation, chosen), robust=True)
    return len(chosen)


def queue_evaluation(event_ids: list[uuid.UUID]) -> None:
    """Queue the rules task for `event_ids` now. Never raises: the events are committed, and a
    caller that saw an error would process them again; the sweep recovers a failed queueing."""
    try:
        app.send_task(EVALUATE_TASK, args=([str(event_id) for event_id in event_ids],))
    except Exception:
        logger.exception("Could not queue %d inbound events for the rules", len(event_ids))
