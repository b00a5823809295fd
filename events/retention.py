"""How long the outbox keeps a published event (healix/retention.py): unpublished rows are the
relay's queue and are never pruned."""

from events.models import OutboxEvent
from healix.retention import DAYS, Kind, register

register(
    Kind(
        "published outbox events",
        OutboxEvent,
        "HEALIX_RETENTION_OUTBOX_DAYS",
        DAYS,
        # Ids follow time, so the primary key reads the oldest first.
        lambda cutoff: OutboxEvent.objects.filter(published_at__lt=cutoff).order_by("pk"),
    ),
)
