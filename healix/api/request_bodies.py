"""Chunked request bodies of the REST API, made readable before Django sees them.

Django reads CONTENT_LENGTH bytes of a request body, and a request sent with
`Transfer-Encoding: chunked` has none: its body was read as empty, so an inbound message was
stored as a rejection without its body and a PATCH changed nothing. This WSGI middleware
(healix/wsgi.py) reads such a body, never more than HEALIX_API_MAX_BODY_BYTES (plus a byte to
notice), from a server that delimits it (gunicorn de-chunks and says so with
`wsgi.input_terminated`), and hands Django a body of known length. What it cannot read, it
marks for ApiBodyLimitMiddleware to answer: 413 past the limit, 411 from a server that passes
the chunked stream on raw (Django's development server). `body_limit` says which limit: the
inbound batch POST has its own, HEALIX_INBOUND_BATCH_MAX_BYTES.
"""

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

__all__ = ["API_PREFIX", "LENGTH_REQUIRED", "OVER_LIMIT", "SizedApiBodies", "body_limit"]

API_PREFIX = "/api/"
# POST /api/v1/inbound/<subject>/batch/ (integrations/inbound/api/urls.py): up to 500 events at
# once.
INBOUND_BATCH_PATH = re.compile(r"/api/v1/inbound/[^/]+/batch/\Z")
# environ keys (so request.META keys) marking a body that was not read.
LENGTH_REQUIRED = "healix.length_required"
OVER_LIMIT = "healix.body_over_limit"


class SizedApiBodies:
    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(API_PREFIX) and _chunked(environ):
            _read_body(environ, body_limit(environ["PATH_INFO"]))
        return self.application(environ, start_response)


def body_limit(path: str) -> int:
    """The most bytes of a request body the API reads at `path`."""
    if INBOUND_BATCH_PATH.match(path):
        return settings.HEALIX_INBOUND_BATCH_MAX_BYTES
    return settings.HEALIX_API_MAX_BODY_BYTES


def _chunked(environ: dict[str, Any]) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not environ.get("CONTENT_LENGTH")


def _read_body(environ: dict[str, Any], limit: int) -> None:
    if not environ.get("wsgi.input_terminated"):
        # The stream still holds the chunk framing and has no end this side of the
        # connection: reading it would block or read garbage.
        environ[LENGTH_REQUIRED] = True
        return
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        environ[OVER_LIMIT] = True
        body = b""  # refused: no part of it reaches the application
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
