"""Celery tasks of the integrations app."""

import uuid

from healix.celery import app
from integrations.handoff import mark_ready

__all__ = ["hand_to_rules"]


@app.task(name="integrations.hand_to_rules")
def hand_to_rules(event_ids: list[str]) -> int:
    """Hand committed inbound events to the rules: record that they are ready (`ready_at`),
    then evaluate the rules for every plan each one targets (rules/services.py; each event is
    evaluated once per plan, so a task run twice changes nothing). Returns how many were new."""
    from rules.services import evaluate_inbound_events

    ids = [uuid.UUID(event_id) for event_id in event_ids]
    ready = mark_ready(ids)
    evaluate_inbound_events(ids)
    return ready
