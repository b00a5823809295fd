"""Retention: every kind of record that is kept for a limited time, and the pruner beat runs
(docs/operations.md#retention).

Each app declares its kinds in its own `retention.py` with `register()`; `prune()` finds them
all (Django's autodiscovery, as the admin finds admin modules) and prunes each in batches. A
batch is one short transaction: it takes at most HEALIX_RETENTION_BATCH_SIZE candidate rows
with FOR UPDATE SKIP LOCKED (a row another transaction holds is left for the next run, never
waited for), prunes them and commits, then pauses. No batch holds a lock for long, so the
inserts of the REST API and the bus never queue behind the pruner.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from psycopg.errors import LockNotAvailable

from healix.models import IdempotentRequest
from healix.sql import PRUNE_LOCK_TIMEOUT_SQL

__all__ = ["DAYS", "HOURS", "Kind", "delete_rows", "kinds", "prune", "register"]

logger = logging.getLogger(__name__)

DAYS = timedelta(days=1)
HOURS = timedelta(hours=1)


def delete_rows(rows: models.QuerySet) -> None:
    rows.delete()


@dataclass(frozen=True)
class Kind:
    """One kind of record: which rows are past their period, and what pruning them does."""

    name: str  # what the logs and `manage.py prune` print
    model: type[models.Model]
    setting: str  # the period's setting, in `unit`s; 0 keeps the kind for ever
    unit: timedelta
    # The rows that may go, given the cutoff (older than the period). Ordered by an index
    # where one orders them by age, so a batch reads the oldest first and stops early.
    candidates: Callable[[datetime], models.QuerySet]
    # What pruning the batch's rows does: deleting them, unless the kind keeps part of them.
    prune_rows: Callable[[models.QuerySet], None] = delete_rows

    def period(self) -> timedelta:
        return getattr(settings, self.setting) * self.unit


_kinds: dict[str, Kind] = {}


def register(*new: Kind) -> None:
    for kind in new:
        _kinds[kind.name] = kind


def kinds() -> list[Kind]:
    autodiscover_modules("retention")
    return list(_kinds.values())


def prune(
    now: datetime | None = None,
    *,
    batch_size: int | None = None,
    pause_seconds: float | None = None,
    run_seconds: float | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Prune every kind's rows past its period, in batches; stop starting batches after
    `run_seconds` (the next run carries on). Rows pruned per kind (with `dry_run`: the rows
    that would be, counted and left alone)."""
    now = now or timezone.now()
    batch_size = batch_size or settings.HEALIX_RETENTION_BATCH_SIZE
    pause = settings.HEALIX_RETENTION_PAUSE_SECONDS if pause_seconds is None else pause_seconds
    deadline = time.monotonic() + (run_seconds or settings.HEALIX_RETENTION_RUN_SECONDS)
    pruned = {}
    for kind in kinds():
        if not kind.period():
            continue  # kept for ever
        cutoff = now - kind.period()
        if dry_run:
            pruned[kind.name] = kind.candidates(cutoff).count()
            continue
        pruned[kind.name] = _prune_kind(kind, cutoff, batch_size, pause, deadline)
        if pruned[kind.name]:
            logger.info("Pruned %d %s older than %s", pruned[kind.name], kind.name, cutoff)
    return pruned


def _prune_kind(
    kind: Kind, cutoff: datetime, batch_size: int, pause: float, deadline: float
) -> int:
    pruned = 0
    while True:
        try:
            batch = _prune_batch(kind, cutoff, batch_size)
        except OperationalError as error:
            if not isinstance(error.__cause__, LockNotAvailable):
                raise
            logger.warning("Pruning %s waited too long for a lock; the next run goes on", kind.name)
            return pruned
        pruned += len(batch)
        if len(batch) < batch_size or time.monotonic() >= deadline:
            return pruned
        time.sleep(pause)


@transaction.atomic
def _prune_batch(kind: Kind, cutoff: datetime, batch_size: int) -> list:
    with connection.cursor() as cursor:
        cursor.execute(PRUNE_LOCK_TIMEOUT_SQL)
    batch = list(
        kind.candidates(cutoff)
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", flat=True)[:batch_size]
    )
    if batch:
        kind.prune_rows(kind.model.objects.filter(pk__in=batch))
    return batch


register(
    Kind(
        "idempotency records",
        IdempotentRequest,
        "HEALIX_RETENTION_IDEMPOTENCY_HOURS",
        HOURS,
        lambda cutoff: IdempotentRequest.objects.filter(created_at__lt=cutoff).order_by(
            "created_at"
        ),
    ),
)
