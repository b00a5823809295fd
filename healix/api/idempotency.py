"""`Idempotency-Key` on POST: a repeat within HEALIX_RETENTION_IDEMPOTENCY_HOURS (24) gets the
first answer, and nothing is done again; the same key with another request (method, path or
body) is a 422.

The stored answer commits in the same transaction as what the request did, so the two cannot
part: either both happened or neither. Two requests with one key at the same moment are
serialised by a transaction-scoped advisory lock on (organization, key); the second then finds
the first's answer. Answers of 5xx (nothing committed) and 429 (nothing done) are not stored,
so a retry runs for real.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from healix.api.auth import organization_of
from healix.api.problems import problem_response
from healix.models import IdempotentRequest
from healix.sql import IDEMPOTENCY_LOCK_SQL

__all__ = ["HEADER", "IDEMPOTENCY_WINDOW", "REPLAY_HEADER", "idempotent"]

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
# How long a key is remembered: long enough for any sane retry schedule (Stripe uses 24 h).
# Beat prunes older records (healix/retention.py).
IDEMPOTENCY_WINDOW = timedelta(hours=settings.HEALIX_RETENTION_IDEMPOTENCY_HOURS)
MAX_KEY_LENGTH = 255
# Response headers worth replaying (the rest are computed again).
KEPT_HEADERS = ("Location",)


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _checked_key(value: str) -> str:
    if not 0 < len(value) <= MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
        raise ValidationError(
            {HEADER: [f"Give 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."]}
        )
    return value


def _replay(stored: IdempotentRequest) -> Response:
    data = json.loads(stored.response_body) if stored.response_body else None
    headers = {**stored.response_headers, REPLAY_HEADER: "true"}
    content_type = headers.pop("Content-Type", None)
    return Response(data, status=stored.status_code, headers=headers, content_type=content_type)


def _storable(response: Response) -> bool:
    return response.status_code < 500 and response.status_code != 429


def _kept_headers(response: Response) -> dict[str, str]:
    headers = {name: response[name] for name in KEPT_HEADERS if name in response}
    if content_type := getattr(response, "content_type", None):
        headers["Content-Type"] = content_type
    return headers


def idempotent(handler: Callable) -> Callable:
    """Decorate a POST handler of an APIView (after authentication: it needs the organization)."""

    @functools.wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return handler(view, request, *args, **kwargs)
        key = _checked_key(raw_key)
        organization = organization_of(request)
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(IDEMPOTENCY_LOCK_SQL, [f"idempotency:{organization.pk}:{key}"])
            stored = IdempotentRequest.objects.filter(organization=organization, key=key).first()
            if stored is not None and stored.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
                stored.delete()
                stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    return problem_response(
                        status.HTTP_422_UNPROCESSABLE_ENTITY,
                        "Idempotency key reused",
                        f"The {HEADER} {key!r} was first used with another request (method, "
                        "path or body); use a new key for a new request.",
                        "idempotency-key-reused",
                    )
                return _replay(stored)
            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
            except Exception as error:  # answered as the view would, and stored if a 4xx
                response = view.handle_exception(error)
            if _storable(response):
                IdempotentRequest.objects.create(
                    organization=organization,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    response_body=json.dumps(response.data, cls=JSONEncoder)
                    if response.data is not None
                    else "",
                    response_headers=_kept_headers(response),
                )
        return response

    return wrapper
