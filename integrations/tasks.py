"""Celery tasks of the integrations app: thin, each calls a service."""

import uuid

from django.conf import settings

from healix.celery import app
from integrations.inbound import handoff
from integrations.webhooks import delivery

__all__ = [
    "deliver_webhooks",
    "hand_to_rules",
    "sweep_inbound_handoffs",
    "sweep_webhook_deliveries",
]


@app.task(name="integrations.hand_to_rules")
def hand_to_rules(event_ids: list[str]) -> int:
    """Hand committed inbound events to the rules (handoff.finish: safe to run twice)."""
    return handoff.finish([uuid.UUID(event_id) for event_id in event_ids])


@app.task(name="integrations.sweep_inbound_handoffs")
def sweep_inbound_handoffs() -> int:
    """Beat: accepted events whose hand-off was lost, or whose evaluation failed."""
    return handoff.sweep(settings.HEALIX_INBOUND_HANDOFF_SWEEP_SECONDS)


@app.task(name="integrations.deliver_webhooks")
def deliver_webhooks(delivery_ids: list[str]) -> int:
    """POST the due deliveries among `delivery_ids` (safe to run twice: the rows decide)."""
    return delivery.deliver(delivery_ids)


@app.task(name="integrations.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Beat: queue deliveries whose task was lost (a killed worker, a broker outage)."""
    return delivery.sweep()
