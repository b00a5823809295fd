"""RFC 9457 problem details (`application/problem+json`) for every REST error.

`problem_exception_handler` is the REST_FRAMEWORK EXCEPTION_HANDLER: DRF's exceptions become
`{"type", "title", "status", "detail", "errors": [{"pointer", "detail"}]}`. Views answer their
own problems with `problem_response()`. Field errors point into the request body with a JSON
pointer in RFC 9457's URI-fragment form (`#/field`).
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_BASE",
    "api_not_found",
    "join_pointer",
    "pointer",
    "problem_body",
    "problem_exception_handler",
    "problem_json",
    "problem_response",
    "validation_errors",
]

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types are URIs naming the kind of problem; documented in docs/inbound.md.
PROBLEM_TYPE_BASE = "https://healix.me/problems/"
# A restarted database breaks each web worker's kept connection once (Django then reconnects):
# the client is told to come back a second later, rather than getting a 500.
DATABASE_RETRY_AFTER_SECONDS = 1

# DRF exception -> (problem type slug, title).
KNOWN: list[tuple[type[Exception], str, str]] = [
    (exceptions.NotAuthenticated, "unauthorized", "Unauthorized"),
    (exceptions.AuthenticationFailed, "unauthorized", "Unauthorized"),
    (exceptions.PermissionDenied, "forbidden", "Forbidden"),
    (exceptions.NotFound, "not-found", "Not found"),
    (exceptions.ParseError, "malformed-json", "Malformed JSON"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type", "Unsupported media type"),
    (exceptions.MethodNotAllowed, "method-not-allowed", "Method not allowed"),
    (exceptions.NotAcceptable, "not-acceptable", "Not acceptable"),
    (exceptions.Throttled, "throttled", "Too many requests"),
    (exceptions.ValidationError, "invalid-request", "Invalid request"),
]


def problem_body(
    status_code: int, title: str, detail: str = "", slug: str = "about:blank", **members: Any
) -> dict[str, Any]:
    return {
        "type": slug if slug == "about:blank" else PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status_code,
        **({"detail": detail} if detail else {}),
        **members,
    }


def problem_response(
    status_code: int,
    title: str,
    detail: str = "",
    slug: str = "about:blank",
    *,
    headers: dict[str, str] | None = None,
    **members: Any,
) -> Response:
    """A problem answered by a DRF view."""
    body = problem_body(status_code, title, detail, slug, **members)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_json(
    status_code: int, title: str, detail: str = "", slug: str = "about:blank", **members: Any
) -> JsonResponse:
    """A problem answered by plain Django code (middleware, health checks, URL fallbacks)."""
    body = problem_body(status_code, title, detail, slug, **members)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def join_pointer(base: str, *tokens: str | int) -> str:
    """Append reference tokens to a JSON pointer, escaping `~` and `/` as RFC 6901 says and
    nothing else, so keys are shown as sent."""
    escaped = (str(token).replace("~", "~0").replace("/", "~1") for token in tokens)
    return "".join([base, *(f"/{token}" for token in escaped)])


def pointer(*tokens: str | int) -> str:
    """`#/a/b`: a JSON pointer in RFC 9457's URI-fragment form."""
    return join_pointer("#", *tokens)


def validation_errors(detail: Any, path: list[str] | None = None) -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {pointer, detail}."""
    path = path or []
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in validation_errors(
                value, path if key in ("non_field_errors",) else [*path, str(key)]
            )
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"pointer": pointer(*path), "detail": str(item)} for item in detail]
        return [
            error
            for index, item in enumerate(detail)
            for error in validation_errors(item, [*path, str(index)])
        ]
    return [{"pointer": pointer(*path), "detail": str(detail)}]


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("Database unavailable: %s", exc)
        set_rollback()
        problem = problem_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Database unavailable",
            "The database could not be reached; nothing was changed. Try again shortly.",
            "database-unavailable",
        )
        problem["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return problem
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 handling (and logging) applies
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    slug, title = next(
        ((slug, title) for kind, slug, title in KNOWN if isinstance(exc, kind)),
        ("about:blank", response.status_text),
    )
    # An exception may carry extra members of its problem (for example the missing scope).
    members: dict[str, Any] = dict(getattr(exc, "problem_members", {}))
    if isinstance(exc, exceptions.ValidationError):
        members["errors"] = validation_errors(exc.detail)
        detail = "; ".join(f"{e['pointer']}: {e['detail']}" for e in members["errors"])
    else:
        detail = str(getattr(exc, "detail", "")) or str(exc)
    problem = problem_response(response.status_code, title, detail, slug, **members)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in problem:
        problem["WWW-Authenticate"] = "Api-Key"
    return problem


# Exempt: a partner sends no CSRF token, and for a URL that names nothing the CSRF check
# would answer Django's HTML 403 before this 404 (API views are exempt for the same reason).
@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """The answer to a URL under /api/ that names no resource, whatever the method: problem
    details, like every other API error, rather than Django's HTML page."""
    detail = f"No API resource at {request.path}."
    if _names_a_resource(f"{request.path_info}/"):
        # Not redirected: a client following a redirect would drop a POST's body.
        detail += f" Did you mean {request.path}/?"
    return problem_json(
        404, "Not found", f"{detail} The API is listed at /api/v1/docs/.", "not-found"
    )


def _names_a_resource(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False
