"""Celery tasks of the rules: thin, they call rules.services and rules.inbound."""

import uuid

from django.conf import settings

from healix.celery import app
from rules import inbound, services

__all__ = [
    "evaluate_due_rules",
    "evaluate_inbound_events",
    "evaluate_submission",
    "sweep_inbound_events",
]


@app.task(name=inbound.EVALUATE_TASK)
def evaluate_inbound_events(event_ids: list[str]) -> int:
    """After their commit: the rules for accepted inbound events (safe to run twice)."""
    return inbound.run_rules([uuid.UUID(event_id) for event_id in event_ids])


@app.task(name="rules.sweep_inbound_events")
def sweep_inbound_events() -> int:
    """Celery beat: accepted events whose queueing was lost, or whose evaluation failed."""
    return inbound.sweep_unfinished(settings.HEALIX_INBOUND_HANDOFF_SWEEP_SECONDS)


@app.task(name="rules.evaluate_submission")
def evaluate_submission(submission_id: int, trace_id: str | None = None) -> int:
    """After a form submission's commit: evaluate the plan's "on change" rows."""
    return services.evaluate_submission(submission_id, trace_id)


@app.task(name="rules.evaluate_due_rules")
def evaluate_due_rules() -> int:
    """Celery beat: time-elapsed rows that came due."""
    return services.evaluate_due_rules()
