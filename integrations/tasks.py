"""Celery tasks of the integrations app: thin, each calls a service."""

import uuid

from healix.celery import app
from integrations import delivery
from integrations.handoff import mark_ready

__all__ = ["deliver_webhooks", "hand_to_rules", "sweep_webhook_deliveries"]


@app.task(name="integrations.hand_to_rules")
def hand_to_rules(event_ids: list[str]) -> int:
    """Hand committed inbound events to the rules. Until the rules issue lands this records
    that they are ready (`ready_at`); that issue evaluates the rules here."""
    return mark_ready([uuid.UUID(event_id) for event_id in event_ids])


@app.task(name="integrations.deliver_webhooks")
def deliver_webhooks(delivery_ids: list[str]) -> int:
    """POST the due deliveries among `delivery_ids` (safe to run twice: the rows decide)."""
    return delivery.deliver(delivery_ids)


@app.task(name="integrations.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Beat: queue deliveries whose task was lost (a killed worker, a broker outage)."""
    return delivery.sweep()
