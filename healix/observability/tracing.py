"""Trace ids: one id follows everything a request or message causes, into every event's traceId.

The id lives in a context variable. Each edge sets it: the middleware for REST requests (W3C
`traceparent`, else `X-Trace-Id`, else a new id), `trace()` for NATS messages (header
`Healix-Trace-Id`), management commands and tests. `emit()` reads `current_trace_id()`.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "TRACE_HEADER",
    "clean_trace_id",
    "current_trace_id",
    "new_trace_id",
    "trace",
    "trace_id_from_headers",
]

# The NATS header (and response header) that carries a trace id between Healix and partners.
TRACE_HEADER = "Healix-Trace-Id"
# W3C Trace Context: version-traceid-parentid-flags, lower-case hex. Version ff and all-zero
# ids are invalid; versions after 00 may append fields, which a parser must ignore.
TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-[0-9a-f]{2}(?P<rest>-.*)?$"
)
# What we accept from a partner's X-Trace-Id / Healix-Trace-Id: ids of common tracers (hex, UUIDs,
# ULIDs) fit; anything longer or with other characters could smuggle text into logs and headers.
TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_current: ContextVar[str | None] = ContextVar("healix_trace_id", default=None)


def new_trace_id() -> str:
    """A fresh id in the W3C form (32 lower-case hex digits), so tracers can take it as is."""
    return uuid.uuid4().hex


def clean_trace_id(value: str | None) -> str | None:
    """`value` if it is an acceptable trace id, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if TRACE_ID.match(value) else None


def _from_traceparent(value: str | None) -> str | None:
    match = TRACEPARENT.match((value or "").strip())
    if (
        match is None
        or match["version"] == "ff"
        or (match["version"] == "00" and match["rest"] is not None)
        or match["trace_id"] == "0" * 32
        or match["parent_id"] == "0" * 16
    ):
        return None
    return match["trace_id"]


def trace_id_from_headers(traceparent: str | None, x_trace_id: str | None) -> str:
    """The trace id of an incoming request: traceparent's, else X-Trace-Id, else a new one."""
    return _from_traceparent(traceparent) or clean_trace_id(x_trace_id) or new_trace_id()


def current_trace_id() -> str | None:
    return _current.get()


@contextmanager
def trace(trace_id: str | None = None) -> Iterator[str]:
    """Run the block under `trace_id` (cleaned; a new id if missing or unacceptable)."""
    value = clean_trace_id(trace_id) or new_trace_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
