"""POST /api/v1/inbound/<subject>/batch/: up to HEALIX_INBOUND_BATCH_MAX_ITEMS inbound events
in one request, committed together, answered 207 with one result per event, in order.

Thin: integrations/inbound/batches.py splits the body and runs the items through ingest_batch(), as
the bus does. Each result is exactly what the single POST (views.py) answers for that event.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from healix.api.auth import organization_of
from healix.api.idempotency import idempotent
from healix.api.problems import problem_response
from healix.api.scopes import Scope
from integrations.inbound.api.views import INGEST_ANSWER, JSON_MEDIA_TYPES
from integrations.inbound.batches import NDJSON, BatchRefused, ingest_rest_batch, split_items

__all__ = ["InboundBatchView"]

BATCH_ANSWER = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "description": "One per event, in the batch's order: the single POST's 202 body, "
            "or its problem details (with the rejected event's `id`).",
            "items": {"anyOf": [INGEST_ANSWER, {"$ref": "#/components/schemas/Problem"}]},
        }
    },
}
EXAMPLE_PLAN = "242b7766-ac9e-451f-9fe4-dd54489108c1"


class InboundBatchView(APIView):
    write_scope = Scope.INBOUND_WRITE

    @extend_schema(
        summary="Send a batch of inbound events on a subject",
        description="Up to 500 events (HEALIX_INBOUND_BATCH_MAX_ITEMS), as a JSON array or as "
        f"NDJSON (`Content-Type: {NDJSON}`, one event a line), committed together. The answer "
        "is 207 with one result per event, in order: what POST /api/v1/inbound/<subject>/ "
        "answers for it (`accepted`, `duplicate` with `duplicateOf`, or its problem details). "
        "A body that is no JSON array, holds no events or too many is refused whole (400, 413) "
        "and nothing is stored.",
        parameters=[
            OpenApiParameter("key", str, OpenApiParameter.PATH, description="The subject.")
        ],
        request={
            "application/json": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
            },
            NDJSON: {"type": "string", "description": "One JSON object a line."},
        },
        responses={207: BATCH_ANSWER},
        examples=[
            OpenApiExample(
                "aiEngineTimeSlot",
                value=[
                    {"planId": EXAMPLE_PLAN, "timeSlot": "2026-12-01T09:30:00Z"},
                    {"planId": EXAMPLE_PLAN, "timeSlot": "2026-12-01T10:30:00Z"},
                ],
                request_only=True,
                media_type="application/json",
            )
        ],
    )
    @idempotent
    def post(self, request: Request, key: str) -> Response:
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in (*JSON_MEDIA_TYPES, NDJSON):
            return problem_response(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                f"Send Content-Type: application/json or {NDJSON}, not {media_type or 'nothing'}.",
                "unsupported-media-type",
            )
        # The body's size was checked before it was read (healix/api/middleware.py).
        try:
            items = split_items(request.body, media_type)
        except BatchRefused as refused:
            errors = [{"pointer": "#", "detail": refused.detail}]
            return problem_response(
                refused.status, refused.title, refused.detail, refused.slug, errors=errors
            )
        results = ingest_rest_batch(organization_of(request), key, items)
        return Response({"results": results}, status=status.HTTP_207_MULTI_STATUS)
