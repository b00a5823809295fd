"""How long inbound events and webhook deliveries are kept (healix/retention.py).

An accepted inbound event loses its payload after HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS, once
the rules are done with it, and keeps its hash until HEALIX_RETENTION_INBOUND_HASH_DAYS: the
first-message-only horizon. A copy of its data sent within the horizon is still a duplicate;
after it, the copy is a new first message (docs/inbound.md#first-message-only-and-its-horizon).
"""

from django.db.models.functions import Now

from healix.retention import DAYS, Kind, register
from integrations.models import (
    DeliveryStatus,
    InboundEvent,
    InboundStatus,
    UnroutableMessage,
    WebhookDelivery,
)


def _forget_payload(rows) -> None:
    rows.update(payload=None, raw_body="", payload_pruned_at=Now())


register(
    # First, so that the payload pass below does not clear what is deleted anyway.
    Kind(
        "inbound events past the first-message-only horizon",
        InboundEvent,
        "HEALIX_RETENTION_INBOUND_HASH_DAYS",
        DAYS,
        # In no order: the BRIN index gives the block ranges that hold old rows.
        lambda cutoff: InboundEvent.objects.filter(received_at__lt=cutoff).order_by(),
    ),
    Kind(
        "inbound payloads",
        InboundEvent,
        "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS",
        DAYS,
        # payload_pruned_at IS NULL: the partial index inbound_payload_kept reads the oldest
        # first (as for rejected events below).
        lambda cutoff: InboundEvent.objects.filter(
            status=InboundStatus.ACCEPTED,
            rules_done_at__isnull=False,  # one the rules may still run on keeps its data
            payload_pruned_at__isnull=True,
            received_at__lt=cutoff,
        ).order_by("received_at"),
        _forget_payload,
    ),
    Kind(
        "rejected inbound events",
        InboundEvent,
        "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS",
        DAYS,
        lambda cutoff: InboundEvent.objects.filter(
            status=InboundStatus.REJECTED, payload_pruned_at__isnull=True, received_at__lt=cutoff
        ).order_by("received_at"),
    ),
    Kind(
        "unroutable messages",
        UnroutableMessage,
        "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS",
        DAYS,
        lambda cutoff: UnroutableMessage.objects.filter(received_at__lt=cutoff).order_by("pk"),
    ),
    Kind(
        "finished webhook deliveries",
        WebhookDelivery,
        "HEALIX_RETENTION_DELIVERY_DAYS",
        DAYS,
        # Pending ones are still being sent; deleting a delivery deletes its attempts.
        lambda cutoff: WebhookDelivery.objects.filter(
            created_at__lt=cutoff, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]
        ).order_by(),  # BRIN, as above
        lambda rows: rows.only("pk").delete(),
    ),
)
