"""Inbound events and integration definitions as the REST API shows them (camelCase, like the
rest of the contract)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from bus.topology import inbound_subject
from integrations.inbound.schemas import definition_schema
from integrations.models import InboundEvent, IntegrationDefinition, IntegrationField

__all__ = ["InboundEventSerializer", "IntegrationDefinitionSerializer"]


# readyAt is the old name of rulesDoneAt, kept for the integrators who read it.
@extend_schema_serializer(deprecate_fields=["readyAt"])
class InboundEventSerializer(serializers.ModelSerializer):
    planIds = serializers.ListField(source="plan_ids", child=serializers.UUIDField())
    duplicateCount = serializers.IntegerField(source="duplicate_count")
    receivedAt = serializers.DateTimeField(source="received_at")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at", allow_null=True)
    rulesDoneAt = serializers.DateTimeField(
        source="rules_done_at",
        allow_null=True,
        help_text="When the rules were done with the event (null until then).",
    )
    readyAt = serializers.DateTimeField(
        source="rules_done_at", allow_null=True, help_text="Deprecated: read rulesDoneAt."
    )
    payloadPrunedAt = serializers.DateTimeField(
        source="payload_pruned_at",
        allow_null=True,
        help_text=(
            "When retention removed the payload (null while it is kept); the event still "
            "counts copies of its data until the first-message-only horizon."
        ),
    )
    traceId = serializers.CharField(source="trace_id")
    rawBody = serializers.CharField(source="raw_body")

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "subject",
            "source",
            "status",
            "payload",
            "payloadPrunedAt",
            "rawBody",
            "errors",
            "planIds",
            "duplicateCount",
            "receivedAt",
            "lastSeenAt",
            "rulesDoneAt",
            "readyAt",
            "traceId",
        ]
        read_only_fields = fields


class IntegrationFieldSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="field_type")

    class Meta:
        model = IntegrationField
        fields = ["name", "type", "required"]
        read_only_fields = fields


class IntegrationDefinitionSerializer(serializers.ModelSerializer):
    """A subject a template listens to: where to send it and the JSON Schema it must match."""

    templateName = serializers.CharField(source="template.name")
    fields = IntegrationFieldSerializer(many=True)
    schema = serializers.SerializerMethodField()
    natsSubject = serializers.SerializerMethodField()
    restPath = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationDefinition
        fields = [
            "id",
            "subject",
            "templateName",
            "description",
            "fields",
            "schema",
            "natsSubject",
            "restPath",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "description": "JSON Schema (draft 2020-12)."})
    def get_schema(self, definition: IntegrationDefinition) -> dict[str, Any]:
        return definition_schema(definition)

    def get_natsSubject(self, definition: IntegrationDefinition) -> str:
        return inbound_subject(definition.organization.slug, definition.subject)

    def get_restPath(self, definition: IntegrationDefinition) -> str:
        return f"/api/v1/inbound/{definition.subject}/"
