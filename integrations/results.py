"""What ingest() answers: the outcome of one message, and the kinds of rejection."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from healix.problems import PROBLEM_TYPE_BASE
from integrations.schemas import Problem

__all__ = [
    "INVALID",
    "MALFORMED",
    "TOO_LARGE",
    "UNKNOWN_SUBJECT",
    "IngestResult",
    "Message",
    "Outcome",
    "Rejection",
]


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
