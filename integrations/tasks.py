"""Celery tasks of the integrations app."""

import uuid

from healix.celery import app
from integrations.handoff import mark_ready

__all__ = ["hand_to_rules"]


@app.task(name="integrations.hand_to_rules")
def hand_to_rules(event_ids: list[str]) -> int:
    """Hand committed inbound events to the rules. Until the rules issue lands this records
    that they are ready (`ready_at`); that issue evaluates the rules here."""
    return mark_ready([uuid.UUID(event_id) for event_id in event_ids])
