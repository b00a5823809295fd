"""/api/v1/partners/ (the organization's partners) and /api/v1/portal-sessions/ (a magic link
into the partner portal for one of them). Scope webhooks:admin: whoever may manage the
organization's webhooks may let a partner manage its own. Thin: portal.services does the work."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from healix.api.auth import actor_of, organization_of
from healix.api.idempotency import idempotent
from healix.api.rest import OrganizationScopedView, service_errors
from healix.api.scopes import Scope
from portal import services
from portal.api.serializers import (
    PartnerSerializer,
    PortalSessionCreateSerializer,
    PortalSessionSerializer,
)
from portal.models import Partner, PortalSession

__all__ = ["PartnerListView", "PortalSessionListView"]

CREATED_EXAMPLE = OpenApiExample(
    "A read-write link for an hour",
    value={
        "id": "0b6f5a0e-5d7c-4b7e-9d49-1f2a3b4c5d6e",
        "partnerId": 3,
        "access": "read-write",
        "url": "https://healix.example/portal/start/Vb4k...Q/",
        "expiresAt": "2026-11-23T10:30:00Z",
    },
    response_only=True,
    status_codes=["201"],
)


class PartnerListView(mixins.ListModelMixin, OrganizationScopedView):
    model = Partner
    serializer_class = PartnerSerializer
    cursor_ordering = ("name", "id")
    read_scope = Scope.WEBHOOKS_ADMIN

    @extend_schema(summary="List the organization's partners (by name)")
    def get(self, request: Request) -> Response:
        return self.list(request)


class PortalSessionListView(OrganizationScopedView):
    model = PortalSession
    serializer_class = PortalSessionSerializer
    write_scope = Scope.WEBHOOKS_ADMIN

    @extend_schema(
        summary="Issue a magic link into the partner portal",
        description="A single-use link for one partner of the organization. Following it "
        "(a page asks to confirm, so link scanners do not spend it) starts a browser session "
        "limited to that partner's webhooks, keys and inbound events, read-only or "
        "read-write, until `expiresAt`. Revoke it in the admin (Portal sessions).",
        request=PortalSessionCreateSerializer,
        responses={201: PortalSessionSerializer},
        examples=[CREATED_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        given = PortalSessionCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        partner = Partner.objects.filter(
            organization=organization_of(request), pk=data["partnerId"]
        ).first()
        if partner is None:  # another organization's is worded as one that exists nowhere
            raise ValidationError({"partnerId": [f"No partner {data['partnerId']} here."]})
        with service_errors({"seconds": "expiresInSeconds"}):
            link = services.issue_session(
                partner,
                access=data["access"],
                seconds=data.get("expiresInSeconds"),
                issued_by=actor_of(request),
            )
        body = {
            "id": link.session.pk,
            "partnerId": partner.pk,
            "access": link.session.access,
            "url": request.build_absolute_uri(link.path),
            "expiresAt": link.session.expires_at,
        }
        return Response(PortalSessionSerializer(body).data, status=status.HTTP_201_CREATED)
