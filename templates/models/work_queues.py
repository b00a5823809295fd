"""Work queues staff work through: their statuses and service locations."""

from datetime import timedelta

from django.db import models

from healix.models import OrganizationOwned
from templates.models.base import identifier_validator, owned_constraints

__all__ = ["ServiceLocation", "WorkQueue", "WorkQueueStatus"]


class WorkQueue(OrganizationOwned):
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        verbose_name="work queue name",
    )
    description = models.TextField(
        blank=True,
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="workqueue_name_unique_per_organization",
            ),
        )

    def __str__(self) -> str:
        return self.name

    def first_status(self) -> "WorkQueueStatus | None":
        return self.statuses.order_by("step_number").first()


class WorkQueueStatus(models.Model):
    queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.CASCADE,
        related_name="statuses",
    )
    status_id = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        verbose_name="status id",
    )
    label = models.CharField(
        max_length=200,
    )
    change_to_label = models.CharField(
        max_length=200,
        blank=True,
        verbose_name="“change to” label",
        help_text="The button text staff see, for example “Start service”.",
    )
    description = models.TextField(
        blank=True,
    )
    step_number = models.PositiveIntegerField(
        help_text="Order of the status in the queue's workflow; the lowest is the first.",
    )
    auto_close_after = models.DurationField(
        null=True,
        blank=True,
        help_text="Close items left in this status without activity for this long (optional).",
    )

    class Meta:
        ordering = ["queue", "step_number"]
        verbose_name_plural = "work queue statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "status_id"],
                name="workqueuestatus_id_unique_per_queue",
            ),
            models.UniqueConstraint(
                fields=["queue", "step_number"],
                name="workqueuestatus_step_unique_per_queue",
            ),
            # Lets items hold (queue_id, status_id) -> status(queue_id, id).
            models.UniqueConstraint(
                fields=["queue", "id"],
                name="workqueuestatus_queue_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(auto_close_after__isnull=True)
                | models.Q(auto_close_after__gt=timedelta(0)),
                name="workqueuestatus_auto_close_positive",
            ),
        ]

    def __str__(self) -> str:
        # What a person reads in choices, lists and history; the id is for the API.
        return self.label or self.status_id


class ServiceLocation(models.Model):
    queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.CASCADE,
        related_name="service_locations",
    )
    name = models.CharField(
        max_length=100,
        help_text="For example Window 1.",
    )

    class Meta:
        ordering = ["queue", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "name"],
                name="servicelocation_name_unique_per_queue",
            ),
            models.UniqueConstraint(
                fields=["queue", "id"],
                name="servicelocation_queue_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name
