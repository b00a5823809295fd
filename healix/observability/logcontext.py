"""Structured logs: what a log line is about, added to every record without changing the calls.

The trace id belongs to healix/observability/tracing.py (it is also what emitted events carry); the
other
fields are bound here, in a context variable, for the duration of handling one thing:

    with trace(event.trace_id), bind(org_id="hrh", inbound_event_id=event.pk):
        logger.info("Rules evaluated")  # -> traceId, orgId, inboundEventId on the line

`ContextFilter` (on the handler, so it sees every record) copies them onto each record as
camelCase attributes; `json_formatter()` writes one JSON object a line (python-json-logger),
`text_formatter()` a readable line ending in key=value pairs. settings.LOGGING picks one by
LOG_FORMAT. Celery tasks carry the context in a message header (`CELERY_HEADER`), bound around
the task by healix/celery.py. Only ids and statuses go into a context: never payloads or secrets.
"""

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from healix.observability.tracing import current_trace_id, trace

__all__ = [
    "CELERY_HEADER",
    "FIELDS",
    "ContextFilter",
    "bind",
    "bound",
    "from_header",
    "json_formatter",
    "note",
    "text_formatter",
    "to_header",
]

# What may be bound, as the keyword bind() takes -> the key on the log line. One list, so a
# typo is an error rather than a new field nobody greps for.
FIELDS = {
    "org_id": "orgId",  # the organization's slug, as in subjects and envelopes
    "event_id": "eventId",  # a system event (the envelope's eventId, the webhook-id)
    "inbound_event_id": "inboundEventId",  # an inbound event (what ingest answers as "id")
    "plan_id": "planId",
    "delivery_id": "deliveryId",  # a webhook delivery
    "integration_id": "integrationId",  # an HTTP integration
}
TRACE_FIELD = "traceId"
# The Celery message header that carries the trace id and the bound fields to the worker.
CELERY_HEADER = "healix_log_context"

_fields: ContextVar[Mapping[str, str]] = ContextVar(
    "healix_log_fields", default=MappingProxyType({})
)


def bound() -> dict[str, str]:
    """The fields bound now (log keys), the trace id included when there is one."""
    fields = dict(_fields.get())
    trace_id = current_trace_id()
    if trace_id:
        fields[TRACE_FIELD] = trace_id
    return fields


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` (keywords of FIELDS; None leaves one out) to every log line of the block."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"Unknown log context field(s): {', '.join(sorted(unknown))}")
    added = {FIELDS[name]: str(value) for name, value in fields.items() if value is not None}
    token = _fields.set({**_fields.get(), **added})
    try:
        yield
    finally:
        _fields.reset(token)


def note(**fields: Any) -> None:
    """Add `fields` until the enclosing bind() ends: for what is learnt midway through a block
    that bound already, like the organization of a request's API key (the request is bound by
    healix.observability.middleware.TraceIdMiddleware)."""
    with bind(**fields):
        added = _fields.get()
    _fields.set(added)


def to_header() -> dict[str, str]:
    """What a queued task carries (the publisher's context)."""
    return bound()


@contextmanager
def from_header(value: Any) -> Iterator[None]:
    """Bind, in a worker, what to_header() gave (anything else is ignored)."""
    value = value if isinstance(value, dict) else {}
    known = {name: value[key] for name, key in FIELDS.items() if isinstance(value.get(key), str)}
    trace_id = value.get(TRACE_FIELD)
    with ExitStack() as stack:
        if isinstance(trace_id, str) and trace_id:
            stack.enter_context(trace(trace_id))
        stack.enter_context(bind(**known))
        yield


class ContextFilter(logging.Filter):
    """Copies the bound fields onto every record it sees (an explicit `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in bound().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _as_shown(record: logging.LogRecord) -> logging.LogRecord:
    """`record`, or for a request the client got wrong (4xx: a 403 in the admin, a 404 for
    /favicon.ico) a copy that is one INFO line. Django logs each as a WARNING, a refused
    permission with the exception's whole traceback, which tells nothing the line does not."""
    status = getattr(record, "status_code", None)
    if not (record.name.startswith("django.") and isinstance(status, int) and status < 500):
        return record
    shown = logging.makeLogRecord(record.__dict__)
    shown.exc_info, shown.exc_text = None, None
    if shown.name == "django.request" and shown.levelno == logging.WARNING:
        shown.levelno, shown.levelname = logging.INFO, logging.getLevelName(logging.INFO)
    return shown


# Record attributes that are logging's own; everything else on a record is a field.
_RESERVED = frozenset([*RESERVED_ATTRS, "taskName", "color_message"])


class _JsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(_as_shown(record))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"time": log_data.pop("time", None), **log_data}  # time first: easier to read


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, then the fields."""
    return _JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=list(_RESERVED),
    )


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record = _as_shown(record)
        line = super().format(record)
        fields = " ".join(
            f"{key}={value}" for key, value in record.__dict__.items() if key not in _RESERVED
        )
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # a traceback stays below the first line
        return f"{head} {fields}{newline}{rest}"


def text_formatter() -> logging.Formatter:
    """`time LEVEL logger message key=value ...`: for a terminal (`make run`)."""
    return _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
