"""POST /api/v1/inbound/<subject>/ (ingest), GET /api/v1/inbound/ and /api/v1/inbound/<id>/;
GET /api/v1/integrations/ and /api/v1/integrations/<id>/ (the subjects and their schemas).

Thin: the work is integrations.inbound.services.ingest(). Everything is scoped to the organization
of
the request's API key; another organization's events are simply not there (404).
"""

import uuid

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from healix.api.auth import organization_of
from healix.api.idempotency import idempotent
from healix.api.problems import problem_response
from healix.api.scopes import Scope
from integrations.inbound.api.filters import InboundEventFilter, IntegrationDefinitionFilter
from integrations.inbound.api.serializers import (
    InboundEventSerializer,
    IntegrationDefinitionSerializer,
)
from integrations.inbound.services import ingest
from integrations.models import InboundEvent, InboundSource, IntegrationDefinition

__all__ = [
    "InboundItemView",
    "InboundListView",
    "IntegrationDetailView",
    "IntegrationListView",
]

# What a partner may send: JSON (any charset parameter; the body must be UTF-8 anyway).
JSON_MEDIA_TYPES = ("application/json",)


INGEST_ANSWER = {
    "type": "object",
    "required": ["id", "status", "duplicateOf"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["accepted", "duplicate"]},
        "duplicateOf": {"type": ["string", "null"], "format": "uuid"},
    },
}


def _scoped(request: Request):
    return InboundEvent.objects.filter(organization=organization_of(request))


class InboundListView(generics.ListAPIView):
    serializer_class = InboundEventSerializer
    filterset_class = InboundEventFilter
    read_scope = Scope.INBOUND_READ
    cursor_ordering = ("-received_at", "id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return InboundEvent.objects.none()
        return _scoped(self.request)

    @extend_schema(summary="List inbound events, newest first")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class InboundItemView(APIView):
    """One URL, two meanings: POST ingests into <subject>; GET shows the event <id>. (A
    subject may look like a UUID, so two URL patterns could not tell them apart.)"""

    read_scope = Scope.INBOUND_READ
    write_scope = Scope.INBOUND_WRITE

    @extend_schema(
        summary="Read one inbound event",
        parameters=[OpenApiParameter("key", str, OpenApiParameter.PATH, description="Its id.")],
        responses={200: InboundEventSerializer},
    )
    def get(self, request: Request, key: str) -> Response:
        try:
            event_id = uuid.UUID(key)
        except ValueError:
            raise NotFound("No inbound event with this id.") from None
        event = _scoped(request).filter(pk=event_id).first()
        if event is None:
            raise NotFound("No inbound event with this id.")
        return Response(InboundEventSerializer(event).data)

    @extend_schema(
        summary="Send an inbound event on a subject",
        description="The body is the integration's payload (see GET /api/v1/integrations/), "
        "with `userId` and/or `planId`. Only the first copy of the same data is processed; "
        "later copies answer `duplicate`.",
        parameters=[
            OpenApiParameter("key", str, OpenApiParameter.PATH, description="The subject.")
        ],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={202: INGEST_ANSWER},
        examples=[
            OpenApiExample(
                "aiEngineTimeSlot",
                value={
                    "planId": "242b7766-ac9e-451f-9fe4-dd54489108c1",
                    "timeSlot": "2026-12-01T09:30:00Z",
                },
                request_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request: Request, key: str) -> Response:
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES:
            return problem_response(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                f"Send Content-Type: application/json, not {media_type or 'nothing'}.",
                "unsupported-media-type",
            )
        limit = settings.HEALIX_INBOUND_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            # Refused unread: reading it is what the limit protects against.
            return problem_response(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                "Payload too large",
                f"{declared} bytes; the limit is {limit}.",
                "payload-too-large",
            )
        result = ingest(organization_of(request), key, request.body, InboundSource.REST)
        answer = result.answer()
        if result.rejection is not None:
            answer.pop("type")
            title, code = answer.pop("title"), answer.pop("status")
            return problem_response(code, title, slug=result.rejection.slug, **answer)
        return Response(answer, status=status.HTTP_202_ACCEPTED)


def _integrations(request: Request):
    return (
        IntegrationDefinition.objects.filter(organization=organization_of(request))
        .select_related("template", "organization")
        .prefetch_related("fields")
    )


class IntegrationListView(generics.ListAPIView):
    serializer_class = IntegrationDefinitionSerializer
    filterset_class = IntegrationDefinitionFilter
    read_scope = Scope.INTEGRATIONS_READ
    cursor_ordering = ("id",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return IntegrationDefinition.objects.none()
        return _integrations(self.request)


class IntegrationDetailView(generics.RetrieveAPIView):
    serializer_class = IntegrationDefinitionSerializer
    read_scope = Scope.INTEGRATIONS_READ

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return IntegrationDefinition.objects.none()
        return _integrations(self.request)
