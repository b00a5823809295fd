"""What ingest() answers: the outcome of one message, and the kinds of rejection."""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from healix.api.problems import PROBLEM_TYPE_BASE
from healix.observability.logcontext import bind
from healix.observability.tracing import trace
from integrations.inbound.schemas import Problem

__all__ = [
    "INVALID",
    "MALFORMED",
    "TOO_LARGE",
    "UNKNOWN_SUBJECT",
    "IngestResult",
    "Message",
    "Outcome",
    "Rejection",
    "log_outcomes",
]

logger = logging.getLogger(__name__)
# Pointers of a rejection's problems named on its log line: enough to see what was wrong.
LOGGED_POINTERS = 10


class Outcome:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Rejection:
    status: int  # the HTTP status REST answers
    title: str
    slug: str  # the problem type's last path segment


MALFORMED = Rejection(400, "Malformed JSON", "malformed-json")
TOO_LARGE = Rejection(413, "Payload too large", "payload-too-large")
UNKNOWN_SUBJECT = Rejection(404, "Unknown subject", "unknown-subject")
INVALID = Rejection(400, "Invalid payload", "invalid-payload")


@dataclass(frozen=True)
class IngestResult:
    event_id: uuid.UUID
    outcome: str
    duplicate_of: uuid.UUID | None = None
    rejection: Rejection | None = None
    problems: list[Problem] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """The JSON REST answers (202 body, or the problem details' members)."""
        if self.rejection is None:
            return {
                "id": str(self.event_id),
                "status": self.outcome,
                "duplicateOf": str(self.duplicate_of) if self.duplicate_of else None,
            }
        return {
            "type": PROBLEM_TYPE_BASE + self.rejection.slug,
            "title": self.rejection.title,
            "status": self.rejection.status,
            "detail": "; ".join(f"{p.pointer}: {p.detail}" for p in self.problems),
            "errors": [problem.as_dict() for problem in self.problems],
            "id": str(self.event_id),
        }


@dataclass(frozen=True)
class Message:
    """One inbound message for ingest_batch()."""

    organization_id: int
    subject: str
    body: bytes | str
    stream_sequence: int | None = None
    trace_id: str | None = None  # else the current trace id
    org_slug: str = ""  # the organization's orgId, for the log line


def log_outcomes(
    messages: list[Message], results: list[IngestResult], traces: list[str], source: str
) -> None:
    """One log line per message of a committed batch (ingest_batch's lists, in order)."""
    for message, result, trace_id in zip(messages, results, traces, strict=True):
        _log_outcome(message, result, source, trace_id)


def _log_outcome(message: Message, result: IngestResult, source: str, trace_id: str) -> None:
    """Ids, subject, status and for a rejection its kind and the pointers of its problems;
    never the payload, nor a problem's detail, which may quote it."""
    extra: dict[str, Any] = {"subject": message.subject, "source": source}
    if result.duplicate_of is not None:
        extra["duplicateOf"] = str(result.duplicate_of)
    with trace(trace_id), bind(org_id=message.org_slug or None, inbound_event_id=result.event_id):
        if result.rejection is None:
            logger.info("Inbound event %s", result.outcome, extra=extra)
            return
        extra["reason"] = result.rejection.slug
        extra["pointers"] = [problem.pointer for problem in result.problems[:LOGGED_POINTERS]]
        logger.warning("Inbound event rejected: %s", result.rejection.slug, extra=extra)
