"""HTTP integrations (webhooks) and their deliveries as the REST API shows and takes them
(camelCase). The signing secret appears only in the answers of create and rotate-secret.

An event type's choice is "all" (every template / form / work queue of the organization) or a
list of ids (none: []). The ids are checked against the key's organization by the view, so a
foreign id is a 400 naming its place, never a hint that it exists elsewhere."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.types import EventType
from healix.api.rest import StrictSerializer
from integrations.models import (
    AttemptOutcome,
    DeliveryStatus,
    HttpIntegration,
    HttpIntegrationCondition,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.webhooks.headers import MASK, masked_headers
from integrations.webhooks.services import ALL
from rules.languages.shorthand import FIELD_TYPES as SHORTHAND_FIELD_TYPES

__all__ = [
    "CHOICE_FIELDS",
    "ConditionSerializer",
    "MaskedHeadersField",
    "RotatedSecretSerializer",
    "WebhookAttemptSerializer",
    "WebhookCreateSerializer",
    "WebhookCreatedSerializer",
    "WebhookDeliverySerializer",
    "WebhookSerializer",
    "WebhookUpdateSerializer",
]

MAX_CHOSEN = 500  # more ids than any organization has templates or forms
CHOICE_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": [ALL], "description": "Every one of the organization's."},
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "maxItems": MAX_CHOSEN,
            "description": "Exactly these ids (none: []).",
        },
    ]
}
# The API's choice fields -> (the event type of their subscriptions, what the ids name).
CHOICE_FIELDS = {
    "planCreated": (EventType.PLAN_CREATED, "template"),
    "planUpdated": (EventType.PLAN_UPDATED, "template"),
    "formSubmitted": (EventType.FORM_SUBMITTED, "form"),
    "statusUpdated": (EventType.WORK_QUEUE_ITEM_STATUS_UPDATED, "work queue"),
}


@extend_schema_field(CHOICE_SCHEMA)
class SubscriptionsField(serializers.Field):
    """An event type's subscriptions as a choice: "all", or the sorted ids (none: [])."""

    def __init__(self, event_type: str, **kwargs: Any) -> None:
        self.event_type = event_type
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, integration: HttpIntegration) -> Any:
        rows = integration.subscriptions.all()  # prefetched
        scopes = [row.scope_id for row in rows if row.event_type == self.event_type]
        if None in scopes:  # an "every" row covers any narrower one beside it
            return ALL
        return sorted(scopes)


@extend_schema_field(CHOICE_SCHEMA)
class EventChoiceField(serializers.Field):
    """ "all" or a list of distinct positive integer ids."""

    default_error_messages = {
        "invalid": 'Give "all" or a list of ids.',
        "too_many": f"At most {MAX_CHOSEN} ids.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if data == ALL:
            return ALL
        if not isinstance(data, list):
            self.fail("invalid")
        if len(data) > MAX_CHOSEN:
            self.fail("too_many")
        ids = []
        for item in data:
            # bool is an int in Python; JSON true is not an id
            if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**63:
                self.fail("invalid")
            if item not in ids:
                ids.append(item)
        return ids

    def to_representation(self, value: Any) -> Any:
        return value


class ConditionSerializer(StrictSerializer):
    path = serializers.CharField(
        max_length=200, help_text="A field of the event's info, dotted: status, data.age."
    )
    fieldType = serializers.ChoiceField(choices=list(SHORTHAND_FIELD_TYPES))
    cell = serializers.CharField(
        max_length=HttpIntegrationCondition._meta.get_field("cell").max_length,
        help_text="Shorthand syntax: =done, in[a,b], >=3, range[1,5), null ...",
    )

    def validate(self, data: dict) -> dict:
        # The model's own checks (path syntax, the cell parsed for its type), per field.
        row = HttpIntegrationCondition(
            path=data["path"], field_type=data["fieldType"], cell=data["cell"]
        )
        try:
            row.full_clean(exclude=["integration"])
        except DjangoValidationError as error:
            names = {"path": "path", "field_type": "fieldType", "cell": "cell"}
            raise serializers.ValidationError(
                {names.get(name, name): messages for name, messages in error.message_dict.items()}
            ) from None
        return data


class MaskedHeadersField(serializers.DictField):
    """Custom headers as they are shown: the names, never the values."""

    def to_representation(self, value: dict) -> dict[str, str]:
        return masked_headers(value)


class WebhookWriteFields(StrictSerializer):
    partnerName = serializers.CharField(max_length=200)
    url = serializers.CharField(
        max_length=2000,
        help_text="https:// URL resolving to a public address (checked against SSRF).",
    )
    isActive = serializers.BooleanField(required=False)
    includeTestEvents = serializers.BooleanField(
        required=False, help_text="Also send events of test users."
    )
    customHeaders = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4096),
        required=False,
        help_text='Extra request headers, e.g. {"X-Api-Key": "..."}. Values are write-only: '
        f"shown as {MASK} once saved. On change, {MASK} keeps a header's stored value while "
        "the URL stays on the same host; moving the URL to another host needs every value.",
    )
    planCreated = EventChoiceField(required=False, help_text="Templates (ids).")
    planUpdated = EventChoiceField(required=False, help_text="Templates (ids).")
    formSubmitted = EventChoiceField(required=False, help_text="Forms (ids).")
    statusUpdated = EventChoiceField(required=False, help_text="Work queues (ids).")
    conditions = ConditionSerializer(
        many=True,
        required=False,
        max_length=50,
        help_text="All must hold on the event's info (replaces the existing ones).",
    )


class WebhookCreateSerializer(WebhookWriteFields):
    pass


class WebhookUpdateSerializer(WebhookWriteFields):
    partnerName = serializers.CharField(max_length=200, required=False)
    url = serializers.CharField(max_length=2000, required=False)


class WebhookSerializer(serializers.ModelSerializer):
    partnerName = serializers.CharField(source="partner_name")
    isActive = serializers.BooleanField(source="is_active")
    includeTestEvents = serializers.BooleanField(source="include_test_events")
    customHeaders = MaskedHeadersField(source="custom_headers", child=serializers.CharField())
    planCreated = SubscriptionsField(EventType.PLAN_CREATED)
    planUpdated = SubscriptionsField(EventType.PLAN_UPDATED)
    formSubmitted = SubscriptionsField(EventType.FORM_SUBMITTED)
    statusUpdated = SubscriptionsField(EventType.WORK_QUEUE_ITEM_STATUS_UPDATED)
    conditions = serializers.SerializerMethodField()
    previousSecretExpiresAt = serializers.DateTimeField(
        source="previous_secret_expires_at",
        allow_null=True,
        help_text="After a rotation, the previous secret signs too until then.",
    )
    failingSince = serializers.DateTimeField(source="failing_since", allow_null=True)
    disabledReason = serializers.CharField(source="disabled_reason")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = HttpIntegration
        fields = [
            "id",
            "partnerName",
            "url",
            "isActive",
            "includeTestEvents",
            "customHeaders",
            "planCreated",
            "planUpdated",
            "formSubmitted",
            "statusUpdated",
            "conditions",
            "previousSecretExpiresAt",
            "failingSince",
            "disabledReason",
            "createdAt",
            "updatedAt",
        ]
        read_only_fields = fields

    @extend_schema_field(ConditionSerializer(many=True))
    def get_conditions(self, integration: HttpIntegration) -> list[dict[str, str]]:
        return [
            {"path": row.path, "fieldType": row.field_type, "cell": row.cell}
            for row in integration.conditions.all()
        ]


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="The signing secret: shown this once. Keep it; it cannot be read again."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret: shown this once.")
    previousSecretExpiresAt = serializers.DateTimeField(
        help_text="Until then deliveries carry signatures of both secrets."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    startedAt = serializers.DateTimeField(source="started_at")
    durationMs = serializers.IntegerField(source="duration_ms", allow_null=True)
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseBody = serializers.CharField(source="response_body", help_text="The first 4 KiB.")
    outcome = serializers.ChoiceField(choices=AttemptOutcome.choices)

    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "startedAt",
            "durationMs",
            "statusCode",
            "outcome",
            "error",
            "responseBody",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhookId = serializers.UUIDField(source="integration_id")
    eventId = serializers.UUIDField(source="event_id", help_text="Also the webhook-id header.")
    eventType = serializers.CharField(source="event_type")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    payload = serializers.CharField(help_text="The envelope exactly as POSTed (JSON text).")
    traceId = serializers.CharField(source="trace_id")
    attemptCount = serializers.IntegerField(source="attempt_count")
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    attempts = WebhookAttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhookId",
            "eventId",
            "eventType",
            "status",
            "payload",
            "traceId",
            "attemptCount",
            "nextAttemptAt",
            "lastStatusCode",
            "lastError",
            "createdAt",
            "completedAt",
            "attempts",
        ]
        read_only_fields = fields
