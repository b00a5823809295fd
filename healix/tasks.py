"""Celery tasks of the healix app: thin, each calls a module of its own."""

from healix import retention
from healix.celery import app

__all__ = ["prune_records"]


@app.task(name="healix.prune_records")
def prune_records() -> dict[str, int]:
    """Beat: every kind of record past its retention period, pruned in short batches."""
    return retention.prune()
