"""The contract, served: plain JSON views (public: they describe the bus, they hold no data)."""

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from events.contract import asyncapi_document, event_schema
from events.types import EventType

__all__ = ["asyncapi_view", "event_schema_view"]


@require_GET
def event_schema_view(request: HttpRequest, event_type: str) -> JsonResponse:
    if event_type not in EventType.values:
        raise Http404(f"No event type {event_type}.")
    return JsonResponse(event_schema(event_type), content_type="application/schema+json")


@require_GET
def asyncapi_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(asyncapi_document())
