"""Webhook deliveries: one per matching endpoint and event, and every attempt to POST it."""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from healix.models import OrganizationOwned
from integrations.models.webhooks import HttpIntegration
from templates.models import (
    owned_constraints,
)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(OrganizationOwned):
    """One event for one integration: the body it sends on every attempt, and where it is.
    Unique per (integration, event); its id is derived from both, so the fan-out can insert
    many at once and still name them."""

    id = models.UUIDField(
        primary_key=True,
        editable=False,
    )
    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event_id = models.UUIDField(
        verbose_name="eventId",
        help_text="Also the webhook-id header of every attempt.",
    )
    event_type = models.CharField(
        max_length=40,
        verbose_name="type",
    )
    payload = models.TextField(
        help_text="The envelope, exactly as POSTed (JSON).",
    )
    trace_id = models.CharField(
        max_length=64,
        blank=True,
        verbose_name="traceId",
    )
    status = models.CharField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )
    attempt_count = models.PositiveIntegerField(
        default=0,
        verbose_name="attempts",
    )
    # Attempts since the delivery was (re)queued: the retry schedule's position.
    round_attempts = models.PositiveIntegerField(
        default=0,
        editable=False,
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name="next attempt",
    )
    leased_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="A worker is sending it until then.",
    )
    last_status_code = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        verbose_name="last HTTP status",
    )
    last_error = models.TextField(
        blank=True,
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )
    completed_at = models.DateTimeField(
        null=True,
        blank=True,
    )

    same_organization_fields = ("integration",)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["integration", "event_id"],
                name="webhookdelivery_one_per_integration_and_event",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhookdelivery_status_known",
            ),
        )
        indexes = [
            models.Index(fields=["integration", "-created_at"], name="delivery_integration"),
            # The sweep's queue: only pending rows.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_pending_due",
            ),
            # Retention (integrations/retention.py): block ranges by age, almost free to insert.
            BrinIndex(fields=["created_at"], name="delivery_created_brin"),
        ]

    def __str__(self) -> str:
        # A title a person reads: the integration by name, not by id.
        return f"{self.event_type} to {self.integration}"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY = "retry", "Failed, will retry"
    FAILED = "failed", "Failed, no more retries"
    DISABLED = "disabled", "Failed, integration disabled"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, as it went."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempts",
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="duration (ms)",
    )
    status_code = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        verbose_name="HTTP status",
    )
    response_headers = models.JSONField(
        default=dict,
        blank=True,
    )
    response_body = models.TextField(
        blank=True,
        help_text="The first 4 KiB.",
    )
    error = models.TextField(
        blank=True,
    )
    outcome = models.CharField(
        max_length=12,
        choices=AttemptOutcome.choices,
    )

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"],
                name="webhookattempt_number_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.outcome}"
