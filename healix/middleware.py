"""Request size limit of the REST API: a body over HEALIX_API_MAX_BODY_BYTES is refused with a
413 problem before anything reads it (reading it is what the limit protects against)."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from healix.problems import problem_json

__all__ = ["ApiBodyLimitMiddleware"]

API_PREFIX = "/api/"


def _too_large(detail: str) -> JsonResponse:
    return problem_json(413, "Payload too large", detail, "payload-too-large")


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            limit = settings.HEALIX_API_MAX_BODY_BYTES
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
