"""The outbox, which is also the event log: every emitted event, published or not."""

from django.db import models

from events.types import EventType
from healix.models import Organization, OrganizationOwned

__all__ = ["CurrentTransactionId", "OutboxEvent", "OutboxPending", "OutboxPublication"]


class CurrentTransactionId(models.Func):
    """The 64-bit id of the inserting transaction (`pg_current_xact_id()`), as a bigint."""

    template = "pg_current_xact_id()::text::bigint"
    output_field = models.BigIntegerField()
    allowed_default = True

    def __init__(self) -> None:
        super().__init__()


class OutboxEvent(OrganizationOwned):
    """One system event, written in the transaction that caused it.

    `id` comes from a sequence, so it orders the events; `emit()` makes the ids of one plan
    follow the commit order (see events/outbox.py). The relay publishes rows in id order; whether
    and when a row was published is recorded apart (OutboxPending, OutboxPublication), so that
    the row, written once, is never updated (see events/relay.py).

    Ids are taken before commit, so across plans a lower id can commit after a higher one. The
    REST feed therefore reads in (`transaction_id`, `id`) order and only below the visible
    horizon (see events/feed.py): a position no later commit can land before.
    """

    id = models.BigAutoField(
        primary_key=True,
        verbose_name="sequence",
    )
    # No index of its own: the unique (organization, id) index serves lookups by organization,
    # and every index is one more entry for each event written.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    event_id = models.UUIDField(
        unique=True,
        editable=False,
        verbose_name="eventId",
    )
    event_type = models.CharField(
        max_length=40,
        choices=EventType.choices,
        verbose_name="type",
    )
    subject = models.CharField(
        max_length=200,
        help_text="The NATS subject, also the envelope's messageType.",
    )
    # No foreign key: the log keeps an event even if its plan is gone, and the insert takes no
    # lock on the plan row beyond the one emit() takes on purpose.
    plan_id = models.UUIDField(
        verbose_name="planId",
    )
    trace_id = models.CharField(
        max_length=64,
        verbose_name="traceId",
    )
    payload = models.TextField(
        help_text="The envelope exactly as published (JSON).",
    )
    transaction_id = models.BigIntegerField(
        db_default=CurrentTransactionId(),
        editable=False,
        verbose_name="transaction",
        help_text="The PostgreSQL transaction that wrote the event (orders the REST feed).",
    )
    occurred_at = models.DateTimeField(
        verbose_name="occurredAt",
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "event"
        constraints = [
            *OrganizationOwned.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(event_type__in=EventType.values),
                name="outboxevent_type_known",
            ),
        ]
        # Few indexes: each is one more entry for every event written.
        indexes = [
            # The admin's filters (exact matches; no LIKE index needed).
            models.Index(fields=["plan_id"], name="outbox_plan"),
            models.Index(fields=["trace_id"], name="outbox_trace"),
            # The REST feed: one organization's events in commit-safe order.
            models.Index(fields=["organization", "transaction_id", "id"], name="outbox_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.event_id}"


# The two tables below hold the relay's bookkeeping, apart from the event's row: marking 500
# rows published updated them in place before, and the update, which could not be HOT, wrote
# every index of the outbox again (docs/performance.md, "The relay's profile"). Now emit()
# inserts a pending row with the event (one statement, events/outbox.py), and the relay's mark
# moves it to a publication row (one statement, events/sql.py): narrow rows, one index each.
# Their key is the event's id, without a database foreign key: its check would lock the event
# row (a write to the outbox page again); Django's delete cascades to them, and nothing else
# deletes events.


class OutboxPending(models.Model):
    """An event not yet published: the relay's queue, read in id order."""

    event = models.OneToOneField(
        OutboxEvent,
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_column="id",
        related_name="pending",
    )
    attempts = models.PositiveIntegerField(
        default=0,
        help_text="Publish attempts so far.",
    )
    last_error = models.TextField(
        blank=True,
        help_text="Why the last attempt failed, if it did.",
    )

    class Meta:
        verbose_name = "pending event"

    def __str__(self) -> str:
        return f"event {self.pk} pending"


class OutboxPublication(models.Model):
    """When JetStream acknowledged an event, after how many attempts."""

    event = models.OneToOneField(
        OutboxEvent,
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_column="id",
        related_name="publication",
    )
    published_at = models.DateTimeField(
        help_text="When JetStream acknowledged the event.",
    )
    attempts = models.PositiveIntegerField(
        help_text="Publish attempts, the one acknowledged included.",
    )

    class Meta:
        verbose_name = "publication"

    def __str__(self) -> str:
        return f"event {self.pk} published at {self.published_at}"
