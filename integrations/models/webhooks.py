"""HTTP integrations (webhooks): where matching system events are POSTed, their deliveries and
every attempt."""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from events.types import EventType
from healix.encryption import EncryptedJSONField, EncryptedTextField
from healix.models import OrganizationOwned
from rules.languages.shorthand import FIELD_TYPES as SHORTHAND_FIELD_TYPES
from rules.languages.shorthand import MAX_CELL_LENGTH, CellSyntaxError, parse_cell
from templates.models import (
    Form,
    PlanTemplate,
    WorkQueue,
    owned_constraints,
)

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
    # The partner whose portal shows it (docs/portal.md); none: only the admin and API do.
    partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="integrations",
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

    same_organization_fields = ("partner",)

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


# Which rows narrow each event type's subscription: a plan event's template, a submitted form,
# a work queue. A subscription without it takes every one of them.
SUBSCRIPTION_SCOPES = {
    EventType.PLAN_CREATED: "template",
    EventType.PLAN_UPDATED: "template",
    EventType.FORM_SUBMITTED: "form",
    EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: "work_queue",
}
SCOPE_FIELDS = ("template", "form", "work_queue")


def _scope_fits() -> models.Q:
    """Each event type's subscriptions name at most its own scope, never another's."""
    fits = models.Q()
    for scope in SCOPE_FIELDS:
        others = {f"{other}__isnull": True for other in SCOPE_FIELDS if other != scope}
        types = [event for event, name in SUBSCRIPTION_SCOPES.items() if name == scope]
        fits |= models.Q(event_type__in=types, **others)
    return fits


class WebhookSubscription(OrganizationOwned):
    """One event type that goes to the integration: of one template, form or work queue, or
    (none given) of every one of them. No subscription of a type: none of its events."""

    integration = models.ForeignKey(
        HttpIntegration,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    event_type = models.CharField(
        max_length=40,
        choices=EventType.choices,
        verbose_name="event",
    )
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Plan created / plan updated: this template's plans (empty: every template).",
    )
    form = models.ForeignKey(
        Form,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Form submitted: this form (empty: every form).",
    )
    work_queue = models.ForeignKey(
        WorkQueue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Work queue item status updated: this queue's items (empty: every queue).",
    )

    same_organization_fields = ("integration", "template", "form", "work_queue")

    class Meta:
        ordering = ["integration_id", "event_type", "id"]
        verbose_name = "subscription"
        constraints = owned_constraints(
            # NULLS NOT DISTINCT: one "every" row per event type, like one row per scope.
            models.UniqueConstraint(
                fields=["integration", "event_type", "template", "form", "work_queue"],
                nulls_distinct=False,
                name="webhooksubscription_unique",
                violation_error_message="The integration has this subscription already.",
            ),
            models.CheckConstraint(
                condition=_scope_fits(),
                name="webhooksubscription_scope_fits_event",
                violation_error_message="This event type cannot be narrowed by that choice.",
            ),
        )

    def __str__(self) -> str:
        scope = self.scope
        if scope is None:
            name = SUBSCRIPTION_SCOPES.get(self.event_type, "").replace("_", " ")
            return f"{self.get_event_type_display()}: every {name}"
        if isinstance(scope, Form):
            return f"{self.get_event_type_display()}: {scope.template} / {scope}"
        return f"{self.get_event_type_display()}: {scope}"

    @property
    def scope(self) -> "PlanTemplate | Form | WorkQueue | None":
        """The template, form or work queue it is narrowed to; None: every one."""
        name = SUBSCRIPTION_SCOPES.get(self.event_type)
        return getattr(self, name) if name else None

    @property
    def scope_id(self) -> int | None:
        """The id of scope, without loading it."""
        name = SUBSCRIPTION_SCOPES.get(self.event_type)
        return getattr(self, f"{name}_id") if name else None

    def clean(self) -> None:
        super().clean()
        # The check constraint's friendly form: the wrong choice named next to its field.
        own = SUBSCRIPTION_SCOPES.get(self.event_type)
        errors = {
            name: f"Not for {self.get_event_type_display().lower()} events."
            for name in SCOPE_FIELDS
            if name != own and getattr(self, f"{name}_id") is not None
        }
        if errors and own is not None:
            raise ValidationError(errors)


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
