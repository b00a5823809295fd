"""/api/v1/events/ (the outgoing event log as a feed to poll) and the published contract:
/api/v1/schemas/events/<type>.json and /api/v1/asyncapi.json (public: they hold no data)."""

import json
from urllib.parse import urlencode

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.contract import asyncapi_document, event_schema
from events.feed import MAX_PAGE, FeedFilters, FeedPosition, InvalidPosition, read_feed
from events.types import EventType
from healix.api.auth import organization_of
from healix.api.rest import QueryParameters
from healix.api.scopes import Scope

__all__ = ["AsyncApiView", "EventFeedView", "EventSchemaView"]

DEFAULT_PAGE = 100


class FeedQuery(serializers.Serializer):
    after = serializers.CharField(required=False, max_length=40)
    type = serializers.ChoiceField(choices=EventType.choices, required=False)
    planId = serializers.UUIDField(required=False)
    traceId = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def validate_after(self, value: str) -> FeedPosition:
        try:
            return FeedPosition.parse(value)
        except InvalidPosition:
            raise serializers.ValidationError(
                "Not a cursor of this feed; send back the `cursor` of a previous page."
            ) from None


FEED_QUERY = QueryParameters(FeedQuery)


def _event_schema(event_type: str) -> dict:
    return {k: v for k, v in event_schema(event_type).items() if k not in ("$schema", "$id")}


def _feed_schema() -> dict:
    return {
        "type": "object",
        "required": ["results", "cursor", "caughtUp", "next"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["cursor", "event"],
                    "properties": {
                        "cursor": {
                            "type": "string",
                            "description": "Where this event is; `after` it continues.",
                        },
                        "event": {
                            "description": "The envelope exactly as published on NATS.",
                            "oneOf": [_event_schema(t) for t in EventType.values],
                        },
                    },
                },
            },
            "cursor": {
                "type": "string",
                "description": "Send it back as `after` in the next poll.",
            },
            "caughtUp": {
                "type": "boolean",
                "description": "False when the page was full: poll again at once.",
            },
            "next": {"type": "string", "description": "The URL of the next poll."},
        },
    }


# The seed's planCreated example (seed/integration.md), as the feed carries it.
SEED_FEED_EXAMPLE = OpenApiExample(
    "planCreated (the seed's example)",
    response_only=True,
    value={
        "results": [
            {
                "cursor": "812.40",
                "event": {
                    "messageType": "healix.hrh.planCreated",
                    "orgId": "hrh",
                    "requestedBy": "15eba04e-0e95-4d03-916e-e6cd9807006b",
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "branch": "master",
                    "eventId": "9b2f6a53-8f1e-4c4e-9a57-0f3c2f1c8e21",
                    "occurredAt": "2026-11-23T10:15:00.000000Z",
                    "info": {
                        "planId": "242b7766-ac9e-451f-9fe4-dd54489108c1",
                        "templateName": "sAI-ERComp",
                        "userId": "2a925299-aee7-4749-bf10-909d3f6c6770",
                        "isTest": False,
                        "roleAssignments": [
                            {"roleId": "Patient", "userId": "2a925299-aee7-4749-bf10-909d3f6c6770"}
                        ],
                    },
                },
            }
        ],
        "cursor": "815.0",
        "caughtUp": True,
        "next": "https://healix.example/api/v1/events/?after=815.0",
    },
)


class EventFeedView(APIView):
    read_scope = Scope.EVENTS_READ

    @extend_schema(
        summary="Read the outgoing event log, oldest first, after a cursor",
        description=(
            "Poll with `after=<cursor>` from the previous answer: you get every event of your "
            "organization exactly once, in a commit-safe order, even while events are being "
            "committed concurrently (see docs/integrators.md). Filters narrow what you get; "
            "the cursor still moves past what they leave out."
        ),
        parameters=[FeedQuery],
        responses={200: _feed_schema()},
        examples=[SEED_FEED_EXAMPLE],
    )
    def get(self, request: Request) -> HttpResponse:
        given = FEED_QUERY.validated(request.query_params)
        filters = FeedFilters(
            event_type=given.get("type"),
            plan_id=given.get("planId"),
            trace_id=given.get("traceId"),
            since=given.get("since"),
        )
        page = read_feed(
            organization_of(request),
            given.get("after"),
            given.get("limit", DEFAULT_PAGE),
            filters,
        )
        # The same query with `after` moved on (a dict of lists: QueryDict.copy() deep-copies).
        params = dict(request.query_params.lists())
        params["after"] = [str(page.next_position)]
        next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params, doseq=True)}")
        # The stored envelopes are JSON already: joined as they are, never parsed again.
        results = ",".join(
            f'{{"cursor":"{position}","event":{payload}}}' for position, payload in page.events
        )
        body = (
            f'{{"results":[{results}],"cursor":"{page.next_position}",'
            f'"caughtUp":{"true" if page.caught_up else "false"},"next":{json.dumps(next_url)}}}'
        )
        return HttpResponse(body, content_type="application/json")


class EventSchemaView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The JSON Schema (draft 2020-12) of one event type",
        parameters=[
            OpenApiParameter("event_type", str, OpenApiParameter.PATH, enum=EventType.values)
        ],
        responses={
            (200, "application/schema+json"): {"type": "object", "description": "A JSON Schema."}
        },
    )
    def get(self, request: Request, event_type: str) -> Response:
        if event_type not in EventType.values:
            raise NotFound(f"No event type {event_type}.")
        return Response(event_schema(event_type), content_type="application/schema+json")


class AsyncApiView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The AsyncAPI 3.0 document of the bus",
        responses={200: {"type": "object", "description": "An AsyncAPI 3.0 document."}},
    )
    def get(self, request: Request) -> Response:
        return Response(asyncapi_document())
