"""The inbound event as the REST API shows it (camelCase, like the rest of the contract)."""

from rest_framework import serializers

from integrations.models import InboundEvent

__all__ = ["InboundEventSerializer"]


class InboundEventSerializer(serializers.ModelSerializer):
    planIds = serializers.ListField(source="plan_ids", child=serializers.UUIDField())
    duplicateCount = serializers.IntegerField(source="duplicate_count")
    receivedAt = serializers.DateTimeField(source="received_at")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at")
    readyAt = serializers.DateTimeField(source="ready_at")
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
            "rawBody",
            "errors",
            "planIds",
            "duplicateCount",
            "receivedAt",
            "lastSeenAt",
            "readyAt",
            "traceId",
        ]
        read_only_fields = fields
