"""Inbound integrations: what a template listens to, and every inbound message received."""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from healix.encryption import EncryptedJSONField, EncryptedTextField
from healix.models import Organization, OrganizationOwned
from rules.languages.shorthand import FIELD_TYPES as SHORTHAND_FIELD_TYPES
from rules.languages.shorthand import MAX_CELL_LENGTH, CellSyntaxError, parse_cell
from templates.models import (
    IDENTIFIER_REGEX,
    Form,
    PlanTemplate,
    TemplatePart,
    WorkQueue,
    identifier_validator,
    owned_constraints,
)

__all__ = [
    "RESERVED_FIELD_NAMES",
    "TEST_EVENT_TYPE",
    "AttemptOutcome",
    "DeliveryStatus",
    "HttpIntegration",
    "HttpIntegrationCondition",
    "HttpIntegrationEvent",
    "HttpIntegrationForm",
    "HttpIntegrationTemplate",
    "HttpIntegrationWorkQueue",
    "InboundEvent",
    "InboundSource",
    "InboundStatus",
    "IntegrationDefinition",
    "IntegrationEventKind",
    "IntegrationField",
    "IntegrationFieldType",
    "PlanEventType",
    "UnroutableMessage",
    "WebhookAttempt",
    "WebhookDelivery",
]

# Routing fields every payload may carry (see integrations/inbound/routing.py); no field may take
# them.
RESERVED_FIELD_NAMES = ("planId", "userId")


class IntegrationFieldType(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    INTEGER = "integer", "Integer"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date (YYYY-MM-DD)"
    DATETIME = "datetime", "Date and time (RFC 3339)"
    OBJECT = "object", "Object"
    ARRAY = "array", "Array"


class IntegrationDefinition(TemplatePart):
    """A subject the template listens to, and the payload's fields (the editor's
    "Integrations" list). Rules read the fields as integration.<subject>.<field>."""

    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="integrations",
    )
    # An identifier is also a NATS token (no dots, wildcards or spaces): the subject is the
    # last token of healix.<orgId>.inbound.<subject>, and a path segment of integration.<s>.<f>.
    subject = models.CharField(
        max_length=100,
        validators=[identifier_validator],
        help_text="The topic, for example aiEngineTimeSlot. Letters, digits, '_' or '-'.",
    )
    description = models.TextField(
        blank=True,
    )
    raw_schema = models.JSONField(
        null=True,
        blank=True,
        verbose_name="advanced: raw JSON Schema",
        help_text=(
            "Optional. A JSON Schema (draft 2020-12) that replaces the one derived from the "
            "fields; it is checked to be a valid schema on save."
        ),
    )
    updated_at = models.DateTimeField(
        auto_now=True,
    )

    class Meta:
        ordering = ["template", "subject"]
        verbose_name = "integration"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["template", "subject"],
                name="integrationdefinition_subject_unique_per_template",
                violation_error_message="This template already listens to this subject.",
            ),
            models.CheckConstraint(
                condition=models.Q(subject__regex=IDENTIFIER_REGEX),
                name="integrationdefinition_subject_is_identifier",
            ),
        )

    def __str__(self) -> str:
        return self.subject

    def clean(self) -> None:
        super().clean()
        if self.raw_schema is not None:
            from integrations.inbound.schemas import schema_problems

            problems = schema_problems(self.raw_schema)
            if problems:
                raise ValidationError({"raw_schema": problems})


class IntegrationField(models.Model):
    definition = models.ForeignKey(
        IntegrationDefinition,
        on_delete=models.CASCADE,
        related_name="fields",
    )
    name = models.CharField(
        max_length=100,
        validators=[identifier_validator],
    )
    field_type = models.CharField(
        max_length=10,
        choices=IntegrationFieldType.choices,
        verbose_name="type",
    )
    required = models.BooleanField(
        default=False,
    )
    position = models.PositiveIntegerField(
        default=0,
    )

    class Meta:
        ordering = ["definition", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "name"],
                name="integrationfield_name_unique_per_definition",
            ),
            models.CheckConstraint(
                condition=models.Q(field_type__in=IntegrationFieldType.values),
                name="integrationfield_type_known",
            ),
            models.CheckConstraint(
                condition=models.Q(name__regex=IDENTIFIER_REGEX)
                & ~models.Q(name__in=RESERVED_FIELD_NAMES),
                name="integrationfield_name_is_identifier_not_reserved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.field_type})"

    def clean(self) -> None:
        super().clean()
        if self.name in RESERVED_FIELD_NAMES:
            raise ValidationError(
                {"name": f"{self.name} is reserved: every payload may use it for routing."}
            )


class InboundSource(models.TextChoices):
    REST = "rest", "REST"
    NATS = "nats", "NATS"


class InboundStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class InboundEvent(OrganizationOwned):
    """One inbound message: the first copy of some data (accepted, with its later copies
    counted on it), or a rejected message with its reasons."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
    )
    # Every index costs each REST request and bus message an insert: none of its own here,
    # (organization, received_at) serves lookups by organization.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # No index of its own: lookups by subject go through (organization, subject, hash).
    subject = models.CharField(
        max_length=200,
    )
    source = models.CharField(
        max_length=4,
        choices=InboundSource.choices,
    )
    status = models.CharField(
        max_length=8,
        choices=InboundStatus.choices,
    )
    payload = models.JSONField(
        null=True,
        blank=True,
        help_text="The parsed payload; empty when the body was not JSON.",
    )
    raw_body = models.TextField(
        blank=True,
        help_text="The body as received, kept only when it could not be parsed (truncated).",
    )
    payload_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the payload's canonical JSON (RFC 8785).",
    )
    errors = models.JSONField(
        default=list,
        blank=True,
        help_text='Why it was rejected: [{"pointer": "#/field", "detail": "..."}].',
    )
    # No foreign keys: the log outlives plans, and routing is re-done on a re-run anyway.
    plan_ids = ArrayField(
        models.UUIDField(),
        default=list,
        blank=True,
        verbose_name="target planIds",
    )
    duplicate_count = models.PositiveIntegerField(
        default=0,
        verbose_name="duplicates",
        help_text="Later copies of the same data, counted and never processed.",
    )
    received_at = models.DateTimeField(
        auto_now_add=True,
    )
    last_seen_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the last duplicate arrived.",
    )
    ready_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the rules were done with it (after its commit); empty until then.",
    )
    # Why the rules are not done with it yet (integrations/inbound/handoff.py). Database defaults:
    # ingest's raw INSERT names only the columns it fills.
    rules_retries = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Times beat's sweep handed it to the rules again (given up at the limit).",
    )
    rules_retry_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Not handed to the rules again before this (a delay doubling per retry).",
    )
    rules_error = models.TextField(
        blank=True,
        db_default="",
        verbose_name="rules failure",
        help_text="Why the rules could not finish with it, the last time they failed.",
    )
    trace_id = models.CharField(
        max_length=64,
        blank=True,
        verbose_name="traceId",
    )
    stream_sequence = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The JetStream sequence of a NATS message.",
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "inbound event"
        # Not OrganizationOwned's unique (organization, id): no table refers to an inbound
        # event, so no composite foreign key needs it, and it would be one more index to fill.
        constraints = [
            # First message only: one accepted row per data; rejected rows never block.
            models.UniqueConstraint(
                fields=["organization", "subject", "payload_hash"],
                condition=models.Q(status="accepted"),
                name="inboundevent_first_message_only",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=InboundStatus.values),
                name="inboundevent_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=InboundSource.values),
                name="inboundevent_source_known",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-received_at"], name="inbound_org_received"),
            # Every index costs each insert; a plain one (no LIKE twin) serves traceId lookups.
            models.Index(fields=["trace_id"], name="inbound_trace_id"),
            # Only the events the rules have not finished with: beat's sweep reads it.
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="accepted", ready_at__isnull=True),
                name="inbound_pending_rules",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.status} {self.pk}"


class UnroutableMessage(models.Model):
    """A NATS message naming an organization that does not exist: it belongs to no tenant,
    so it is kept here (superusers only) rather than dropped."""

    subject = models.CharField(
        max_length=500,
    )
    raw_body = models.TextField(
        blank=True,
    )
    reason = models.TextField()
    received_at = models.DateTimeField(
        auto_now_add=True,
    )

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.subject


# --- HTTP integrations (webhooks) ---------------------------------------------------------

# Dotted path into an event's `info`, e.g. status or data.age.
INFO_PATH_REGEX = r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$"
info_path_validator = RegexValidator(
    INFO_PATH_REGEX.replace("$", r"\Z"), "A dotted path of names, for example data.age."
)
# The synthetic event the admin's "send a test event" delivers.
TEST_EVENT_TYPE = "webhookTest"


class HttpIntegration(OrganizationOwned):
    """A partner's webhook endpoint ("Manage HTTP Integrations"): where matching system events
    are POSTed, signed, and which ones match."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
    )
    partner_name = models.CharField(
        max_length=200,
        help_text="Who receives these webhooks, for example Acme Scheduling.",
    )
    url = models.URLField(
        max_length=2000,
        verbose_name="URL",
        help_text=(
            "Where events are POSTed. https:// (http:// only in development); it must resolve "
            "to a public address."
        ),
    )
    is_active = models.BooleanField(
        default=True,
        verbose_name="active",
        help_text="Inactive integrations receive nothing. Healix clears it when the endpoint "
        "answers 410 Gone or fails for days.",
    )
    plan_created_all = models.BooleanField(
        default=False,
        verbose_name="plan created: all templates",
    )
    plan_updated_all = models.BooleanField(
        default=False,
        verbose_name="plan updated: all templates",
    )
    form_submitted_all = models.BooleanField(
        default=False,
        verbose_name="form submitted: all forms",
    )
    status_updated_all = models.BooleanField(
        default=False,
        verbose_name="work queue item status updated: all work queues",
    )
    include_test_events = models.BooleanField(
        default=False,
        verbose_name="include test-user events",
        help_text="Also send events of test users (info.isTest true).",
    )
    # Partners put credentials here: encrypted at rest, values masked once saved.
    custom_headers = EncryptedJSONField(
        default=dict,
        blank=True,
        help_text='Extra request headers, e.g. {"X-Api-Key": "..."}.',
    )
    # Needed in clear to sign (an HMAC key cannot be hashed): encrypted; shown at creation only.
    secret = EncryptedTextField(
        editable=False,
    )
    previous_secret = EncryptedTextField(
        blank=True,
        editable=False,
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Until then the previous secret signs too (after a rotation).",
    )
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Since when every attempt has failed; cleared by a success.",
    )
    disabled_reason = models.TextField(
        blank=True,
        editable=False,
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )
    updated_at = models.DateTimeField(
        auto_now=True,
    )

    class Meta:
        ordering = ["organization", "partner_name"]
        verbose_name = "HTTP integration"
        constraints = owned_constraints()

    def __str__(self) -> str:
        return self.partner_name

    def clean(self) -> None:
        super().clean()
        from integrations.webhooks.headers import custom_header_problems
        from integrations.webhooks.ssrf import UnsafeURL, check_url

        errors = {}
        if self.url:
            try:
                check_url(self.url)
            except UnsafeURL as error:
                errors["url"] = str(error)
        problems = custom_header_problems(self.custom_headers)
        if problems:
            errors["custom_headers"] = problems
        if errors:
            raise ValidationError(errors)


class PlanEventType(models.TextChoices):
    PLAN_CREATED = "planCreated", "Plan created"
    PLAN_UPDATED = "planUpdated", "Plan updated"


class HttpIntegrationTemplate(OrganizationOwned):
    """A template whose plan created / plan updated events go to the integration."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="templates",
    )
    event_type = models.CharField(
        max_length=20,
        choices=PlanEventType.choices,
        verbose_name="event",
    )
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="+",
    )

    same_organization_fields = ("integration", "template")

    class Meta:
        verbose_name = "plan event of a template"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["integration", "event_type", "template"],
                name="httpintegrationtemplate_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(event_type__in=PlanEventType.values),
                name="httpintegrationtemplate_event_known",
            ),
        )

    def __str__(self) -> str:
        return f"{self.get_event_type_display()}: {self.template}"


class HttpIntegrationForm(OrganizationOwned):
    """A form (of a template) whose form submitted events go to the integration."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="forms",
    )
    form = models.ForeignKey(
        Form,
        on_delete=models.CASCADE,
        related_name="+",
    )

    same_organization_fields = ("integration", "form")

    class Meta:
        verbose_name = "form submitted of a form"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["integration", "form"],
                name="httpintegrationform_unique",
            ),
        )

    def __str__(self) -> str:
        return f"{self.form.template} / {self.form}"


class HttpIntegrationWorkQueue(OrganizationOwned):
    """A work queue whose item status updated events go to the integration."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="work_queues",
    )
    work_queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.CASCADE,
        related_name="+",
    )

    same_organization_fields = ("integration", "work_queue")

    class Meta:
        verbose_name = "status updated of a work queue"
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["integration", "work_queue"],
                name="httpintegrationworkqueue_unique",
            ),
        )

    def __str__(self) -> str:
        return str(self.work_queue)


class HttpIntegrationCondition(models.Model):
    """One cell of the payload condition: `info.<path>` must satisfy `cell`, written in the
    rules' shorthand syntax for `field_type`. All conditions of an integration must hold."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="conditions",
    )
    path = models.CharField(
        max_length=200,
        validators=[info_path_validator],
        verbose_name="info field",
        help_text="A field of the event's info, dotted for nested ones: status, data.age.",
    )
    field_type = models.CharField(
        max_length=10,
        choices=[(name, name) for name in SHORTHAND_FIELD_TYPES],
        verbose_name="type",
    )
    cell = models.CharField(
        max_length=MAX_CELL_LENGTH,
        verbose_name="condition",
        help_text="Shorthand syntax: =done, in[a,b], >=3, range[1,5), null ...",
    )

    class Meta:
        ordering = ["integration", "id"]
        verbose_name = "payload condition"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(field_type__in=SHORTHAND_FIELD_TYPES),
                name="httpintegrationcondition_type_known",
            ),
        ]

    def __str__(self) -> str:
        return f"info.{self.path} {self.cell}"

    def clean(self) -> None:
        super().clean()
        if self.field_type in SHORTHAND_FIELD_TYPES and self.cell:
            try:
                parse_cell(self.cell, self.field_type)
            except CellSyntaxError as error:
                raise ValidationError({"cell": str(error)}) from None


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
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.integration_id}"


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


class IntegrationEventKind(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    SECRET_ROTATED = "secret_rotated", "Secret rotated"
    REPLAYED = "replayed", "Failed deliveries replayed"


class HttpIntegrationEvent(OrganizationOwned):
    """An operational event of an integration: disabled by Healix, secret rotated, ..."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="events",
    )
    kind = models.CharField(
        max_length=20,
        choices=IntegrationEventKind.choices,
    )
    detail = models.TextField(
        blank=True,
    )
    occurred_at = models.DateTimeField(
        auto_now_add=True,
    )

    same_organization_fields = ("integration",)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = "operational event"
        constraints = owned_constraints()

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"
