"""Inbound integrations: what a template listens to, and every inbound message received."""

import uuid
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from healix.models import Organization, OrganizationOwned
from templates.models import (
    IDENTIFIER_REGEX,
    PlanTemplate,
    TemplatePart,
    identifier_validator,
    owned_constraints,
)

# Routing fields every payload may carry (see integrations/inbound/routing.py); no field may take
# them.
RESERVED_FIELD_NAMES = ("planId", "userId")


def schema_problems(schema: Any) -> list[str]:
    """Why `schema` is no valid draft 2020-12 schema (empty when it is)."""
    if not isinstance(schema, dict):
        return ["A schema is a JSON object."]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(token) for token in error.absolute_path) or "(root)"
        return [f"Not a valid JSON Schema at {where}: {error.message}"]
    return []


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
    rules_done_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the rules were done with it (after its commit); empty until then.",
    )
    # Why the rules are not done with it yet (rules/inbound.py). Database defaults:
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
    payload_pruned_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text=(
            "When retention removed the payload; the hash stays until the first-message-only "
            "horizon (HEALIX_RETENTION_INBOUND_HASH_DAYS)."
        ),
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
                condition=models.Q(status="accepted", rules_done_at__isnull=True),
                name="inbound_pending_rules",
            ),
            # Retention (integrations/retention.py): the rows whose payload is still kept,
            # oldest first; a pruned row leaves it, so a batch never reads past pruned rows.
            models.Index(
                fields=["received_at"],
                condition=models.Q(payload_pruned_at__isnull=True),
                name="inbound_payload_kept",
            ),
            # Retention past the hash horizon: block ranges by arrival, almost free to insert.
            BrinIndex(fields=["received_at"], name="inbound_received_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.get_status_display().lower()})"


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
