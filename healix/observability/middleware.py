"""The REST request's edge of observability: its trace id, and the log context it binds."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from healix.observability.logcontext import bind
from healix.observability.tracing import TRACE_HEADER, trace, trace_id_from_headers

__all__ = ["TraceIdMiddleware"]


class TraceIdMiddleware:
    """Sets the trace id for the request and answers it in the `Healix-Trace-Id` header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trace_id = trace_id_from_headers(
            request.headers.get("traceparent"), request.headers.get("X-Trace-Id")
        )
        # bind(): what the request learns (its API key's organization) is logged until its end.
        with trace(trace_id), bind():
            response = self.get_response(request)
        response[TRACE_HEADER] = trace_id
        return response
