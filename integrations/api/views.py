"""POST /api/v1/inbound/<subject>/ (ingest), GET /api/v1/inbound/ and /api/v1/inbound/<id>/.

Thin: the work is integrations.services.ingest(). Everything is scoped to the organization of
the request's API key; another organization's events are simply not there (404).
"""

import uuid

from django.conf import settings
from django.utils.dateparse import parse_datetime
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from healix.api_auth import organization_of
from healix.problems import problem_response
from healix.scopes import Scope
from integrations.api.serializers import InboundEventSerializer
from integrations.models import InboundEvent, InboundSource, InboundStatus
from integrations.services import ingest

__all__ = ["InboundItemView", "InboundListView"]

# What a partner may send: JSON (any charset parameter; the body must be UTF-8 anyway).
JSON_MEDIA_TYPES = ("application/json",)


def _scoped(request: Request):
    return InboundEvent.objects.filter(organization=organization_of(request))


class InboundListView(generics.ListAPIView):
    serializer_class = InboundEventSerializer
    read_scope = Scope.INBOUND_READ

    def get_queryset(self):
        queryset = _scoped(self.request)
        params = self.request.query_params
        if subject := params.get("subject"):
            queryset = queryset.filter(subject=subject)
        if event_status := params.get("status"):
            if event_status not in InboundStatus.values:
                choices = ", ".join(InboundStatus.values)
                raise ValidationError({"status": [f"Use one of {choices}."]})
            queryset = queryset.filter(status=event_status)
        if since := params.get("since"):
            moment = _parse_moment(since)
            queryset = queryset.filter(received_at__gte=moment)
        return queryset.order_by("-received_at", "id")


def _parse_moment(value: str):
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError({"since": ["Give an RFC 3339 date-time with a time zone."]})
    return moment


class InboundItemView(APIView):
    """One URL, two meanings: POST ingests into <subject>; GET shows the event <id>. (A
    subject may look like a UUID, so two URL patterns could not tell them apart.)"""

    read_scope = Scope.INBOUND_READ
    write_scope = Scope.INBOUND_WRITE

    def get(self, request: Request, key: str) -> Response:
        try:
            event_id = uuid.UUID(key)
        except ValueError:
            raise NotFound("No inbound event with this id.") from None
        event = _scoped(request).filter(pk=event_id).first()
        if event is None:
            raise NotFound("No inbound event with this id.")
        return Response(InboundEventSerializer(event).data)

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
