"""How long the outbox keeps a published event (healix/retention.py): only events with a
publication row are candidates, so the relay's queue (pending rows) is never pruned. Deleting
an event deletes its publication row with it (Django's cascade)."""

from events.models import OutboxEvent
from healix.retention import DAYS, Kind, register

register(
    Kind(
        "published outbox events",
        OutboxEvent,
        "HEALIX_RETENTION_OUTBOX_DAYS",
        DAYS,
        # Ids follow time, so the primary key reads the oldest first.
        lambda cutoff: OutboxEvent.objects.filter(publication__published_at__lt=cutoff).order_by(
            "pk"
        ),
    ),
)
