"""Portal sessions and partners as the REST API takes and shows them (camelCase)."""

from django.conf import settings
from rest_framework import serializers

from healix.api.rest import StrictSerializer
from portal.models import Partner, PortalAccess

__all__ = ["PartnerSerializer", "PortalSessionCreateSerializer", "PortalSessionSerializer"]


class PortalSessionCreateSerializer(StrictSerializer):
    partnerId = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="One of the organization's partners."
    )
    access = serializers.ChoiceField(
        choices=PortalAccess.values,
        required=False,
        default=PortalAccess.READ_ONLY.value,
        help_text="read-write lets the partner change its webhooks; read-only only shows.",
    )
    expiresInSeconds = serializers.IntegerField(
        required=False,
        min_value=60,
        max_value=settings.HEALIX_PORTAL_MAX_SESSION_SECONDS,
        help_text="The link and its session end then "
        f"(default {settings.HEALIX_PORTAL_SESSION_SECONDS}).",
    )


class PortalSessionSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Revoke it in the admin by this id.")
    partnerId = serializers.IntegerField()
    access = serializers.ChoiceField(choices=PortalAccess.values)
    url = serializers.CharField(
        help_text="The magic link: single use, shown this once. Give it to the partner."
    )
    expiresAt = serializers.DateTimeField()


class PartnerSerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Partner
        fields = ["id", "name", "createdAt"]
        read_only_fields = fields
