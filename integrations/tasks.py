"""Celery tasks of the webhooks: thin, each calls integrations/webhooks/delivery.py. (Accepted
inbound events are the rules' work: rules/tasks.py.)"""

from healix.celery import app
from integrations.webhooks import delivery

__all__ = [
    "deliver_webhooks",
    "sweep_webhook_deliveries",
]


@app.task(name=delivery.DELIVER_TASK)
def deliver_webhooks(delivery_ids: list[str]) -> int:
    """POST the due deliveries among `delivery_ids` (safe to run twice: the rows decide)."""
    return delivery.deliver(delivery_ids)


@app.task(name="integrations.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> int:
    """Beat: queue deliveries whose task was lost (a killed worker, a broker outage)."""
    return delivery.sweep()
