"""Request size limit of the REST API: a body over HEALIX_API_MAX_BODY_BYTES (or the inbound
batch POST's own HEALIX_INBOUND_BATCH_MAX_BYTES, see request_bodies.body_limit) is refused with a
413 problem before anything reads it (reading it is what the limit protects against). A
chunked body that healix/api/request_bodies.py could not read is refused here too: 413 past the
limit, 411 where the server cannot delimit it.

And the browser's middleware (sessions, the logged-in user, messages), which does nothing
for an API request: the API authenticates each request by its key alone, never by a session
cookie (settings.REST_FRAMEWORK), so it has no session or user to load. Subclasses of
Django's own, so the admin's checks still find them. Django's CSRF middleware stays as it is,
for every path: the deployment checklist wants it by name, and it costs an API request
(exempt from it) next to nothing."""

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from healix.api.problems import problem_json
from healix.api.request_bodies import API_PREFIX, LENGTH_REQUIRED, OVER_LIMIT, body_limit

__all__ = [
    "ApiBodyLimitMiddleware",
    "BrowserAuthenticationMiddleware",
    "BrowserMessageMiddleware",
    "BrowserSessionMiddleware",
]


def _too_large(detail: str) -> JsonResponse:
    return problem_json(413, "Payload too large", detail, "payload-too-large")


def _length_required() -> JsonResponse:
    detail = "This server cannot read a chunked body: send the body with a Content-Length header."
    return problem_json(411, "Length required", detail, "length-required")


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            limit = body_limit(request.path_info)
            if request.META.get(LENGTH_REQUIRED):
                return _length_required()
            if request.META.get(OVER_LIMIT):
                return _too_large(
                    f"The body is more than {limit} bytes; the API reads at most {limit}."
                )
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                return _too_large(f"{declared} bytes; the API reads at most {limit}.")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if request.path.startswith(API_PREFIX) and isinstance(exception, RequestDataTooBig):
            return _too_large(str(exception))
        return None


class _BrowserOnly:
    """Runs the middleware it is mixed into for every path but the API's: skipped, the three
    cost an API request 60 to 100 us of CPU (a tenth of a caught-up poll of the feed)."""

    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    pass
