"""What happens at run time. Only plans/services/ changes these rows."""

import uuid

from django.conf import settings
from django.db import models

from healix.models import OrganizationOwned
from templates.models import (
    FormAssignmentDefinition,
    PlanTemplate,
    Role,
    ServiceLocation,
    WorkQueue,
    WorkQueueStatus,
    owned_constraints,
)

__all__ = [
    "FormAssignment",
    "FormAssignmentStatus",
    "FormSubmission",
    "Plan",
    "PlanStatus",
    "RoleAssignment",
    "WorkQueueItem",
    "WorkQueueItemStatusChange",
]


class PlanStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    CLOSED = "CLOSED", "Closed"


class Plan(OrganizationOwned):
    """One plan template assigned to one person."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        verbose_name="plan id",
    )
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.PROTECT,
        related_name="plans",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="plans",
        verbose_name="person",
        help_text="The person the plan is for.",
    )
    title = models.CharField(
        max_length=200,
        blank=True,
    )
    status = models.CharField(
        max_length=6,
        choices=PlanStatus.choices,
        default=PlanStatus.OPEN,
    )
    risk_status = models.CharField(
        max_length=100,
        blank=True,
        verbose_name="risk status",
    )
    start_date = models.DateTimeField(
        verbose_name="start date",
    )
    end_date = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name="end date",
    )
    custom_fields = models.JSONField(
        default=dict,
        blank=True,
        verbose_name="custom field values",
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    same_organization_fields = ("template", "user")

    class Meta:
        ordering = ["-created_at"]
        constraints = owned_constraints(
            models.CheckConstraint(
                condition=models.Q(status__in=PlanStatus.values),
                name="plan_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="plan_ends_after_it_starts",
                violation_error_message="endDate cannot be before startDate.",
            ),
        )
        indexes = [
            models.Index(fields=["organization", "user", "status"]),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.template} for {self.user}"


class RoleAssignment(OrganizationOwned):
    plan = models.ForeignKey(
        Plan,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    role = models.ForeignKey(
        Role,
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="role_assignments",
    )

    same_organization_fields = ("plan", "role", "user")

    class Meta:
        ordering = ["plan", "role"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["plan", "role"],
                name="roleassignment_one_user_per_role",
                violation_error_message="This role already has a user in this plan.",
            ),
        )

    def __str__(self) -> str:
        return f"{self.role} → {self.user}"


class FormAssignmentStatus(models.TextChoices):
    ASSIGNED = "ASSIGNED", "Assigned"
    SUBMITTED = "SUBMITTED", "Submitted"


class FormAssignment(OrganizationOwned):
    """A form given to a user within a plan."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        verbose_name="form assignment id",
    )
    plan = models.ForeignKey(
        Plan,
        on_delete=models.CASCADE,
        related_name="form_assignments",
    )
    definition = models.ForeignKey(
        FormAssignmentDefinition,
        on_delete=models.PROTECT,
        related_name="assignments",
        help_text="The template's form assignment this one was made from.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="form_assignments",
        verbose_name="assignee",
    )
    status = models.CharField(
        max_length=9,
        choices=FormAssignmentStatus.choices,
        default=FormAssignmentStatus.ASSIGNED,
    )
    prefill = models.JSONField(
        default=dict,
        blank=True,
        help_text="Values the form opens with (from the definition's default calculations).",
    )
    assigned_at = models.DateTimeField(
        auto_now_add=True,
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    same_organization_fields = ("plan", "definition", "user")

    class Meta:
        ordering = ["-assigned_at"]
        constraints = owned_constraints(
            models.CheckConstraint(
                condition=models.Q(status__in=FormAssignmentStatus.values),
                name="formassignment_status_known",
            ),
        )

    @property
    def form(self):
        return self.definition.form

    def __str__(self) -> str:
        return f"{self.definition.form} for {self.user}"


class FormSubmission(OrganizationOwned):
    assignment = models.OneToOneField(
        FormAssignment,
        on_delete=models.CASCADE,
        related_name="submission",
    )
    data = models.JSONField(
        help_text="The submitted form data, validated against the form's fields.",
    )
    submitted_at = models.DateTimeField(
        auto_now_add=True,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    same_organization_fields = ("assignment",)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = owned_constraints()

    def __str__(self) -> str:
        return f"Submission of {self.assignment}"


class WorkQueueItem(OrganizationOwned):
    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        verbose_name="work queue item id",
    )
    queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.PROTECT,
        related_name="items",
        verbose_name="work queue",
    )
    plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        related_name="work_queue_items",
    )
    title = models.CharField(
        max_length=200,
    )
    ticket_number = models.PositiveIntegerField(
        editable=False,
        verbose_name="ticket number",
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
        verbose_name="created at",
    )
    priority = models.IntegerField(
        default=0,
        help_text="Higher is more urgent.",
    )
    service_location = models.ForeignKey(
        ServiceLocation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="service location",
    )
    queue_position = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="queue position",
    )
    status = models.ForeignKey(
        WorkQueueStatus,
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(
        auto_now=True,
    )

    same_organization_fields = ("queue", "plan")

    class Meta:
        ordering = ["queue", "ticket_number"]
        verbose_name = "work queue item"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["queue", "ticket_number"],
                name="workqueueitem_ticket_unique_per_queue",
            ),
            # Lets status changes hold (queue_id, item_id) -> item(queue_id, id).
            models.UniqueConstraint(
                fields=["queue", "id"],
                name="workqueueitem_queue_id_unique",
            ),
        )

    def __str__(self) -> str:
        return f"{self.queue} #{self.ticket_number} {self.title}"


class WorkQueueItemStatusChange(OrganizationOwned):
    """Every status an item has left, so the old status is kept.

    `queue` repeats the item's queue so that PostgreSQL can keep both statuses inside it.
    """

    queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
    )
    item = models.ForeignKey(
        WorkQueueItem,
        on_delete=models.CASCADE,
        related_name="status_changes",
    )
    old_status = models.ForeignKey(
        WorkQueueStatus,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for the status an item was created in.",
    )
    new_status = models.ForeignKey(
        WorkQueueStatus,
        on_delete=models.PROTECT,
        related_name="+",
    )
    changed_at = models.DateTimeField(
        auto_now_add=True,
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    same_organization_fields = ("queue", "item")

    class Meta:
        ordering = ["item", "changed_at"]
        constraints = owned_constraints()

    def __str__(self) -> str:
        old = self.old_status or "created"
        return f"{self.item}: {old} → {self.new_status}"
