"""The writes of ingest_batch(): rejected rows, then one INSERT ... ON CONFLICT DO UPDATE
over the partial unique index of accepted rows that stores the first copy of each data and
counts every later copy on it, in a single statement."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from healix.prepared import prepared_cursor
from integrations.inbound.payloads import canonical_hash
from integrations.inbound.results import IngestResult, Message, Outcome
from integrations.inbound.schemas import Problem
from integrations.models import InboundEvent, InboundStatus
from integrations.sql import STORE_SQL
from rules.inbound_batching import queue_after_commit

__all__ = [
    "RAW_BODY_KEEP_CHARS",
    "Candidate",
    "rejected_row",
    "store_first_or_count",
    "text_of",
]

# How much of an unparseable body is kept for the admin: enough to see what went wrong.
RAW_BODY_KEEP_CHARS = 4096


@dataclass(frozen=True)
class Candidate:
    index: int
    new_id: uuid.UUID
    message: Message
    payload: Any
    plan_ids: list[uuid.UUID]
    trace_id: str

    @property
    def digest(self) -> str:
        return canonical_hash(self.payload)

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.message.organization_id, self.message.subject, self.digest)


def rejected_row(
    message: Message, source: str, payload: Any, problems: list[Problem], trace_id: str
) -> InboundEvent:
    return InboundEvent(
        id=uuid.uuid4(),
        organization_id=message.organization_id,
        subject=message.subject,
        source=source,
        status=InboundStatus.REJECTED,
        payload=payload,
        raw_body="" if payload is not None else text_of(message.body),
        payload_hash=canonical_hash(payload) if payload is not None else "",
        errors=[problem.as_dict() for problem in problems],
        trace_id=trace_id,
        stream_sequence=message.stream_sequence,
        received_at=timezone.now(),
    )


def text_of(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text[:RAW_BODY_KEEP_CHARS].replace("\x00", "\ufffd")


def store_first_or_count(candidates: list[Candidate], source: str) -> dict[int, IngestResult]:
    """Store the first copy of each data (in batch order) and count every other copy on the
    accepted row, new or already there; one result per candidate index."""
    if not candidates:
        return {}
    firsts: dict[tuple[int, str, str], Candidate] = {}
    copies: dict[tuple[int, str, str], int] = {}
    keys = {}
    for c in candidates:
        key = keys[c.index] = c.key
        firsts.setdefault(key, c)
        copies[key] = copies.get(key, 0) + 1
    rows = [
        {
            "id": str(c.new_id),
            "organization_id": key[0],
            "subject": key[1],
            "payload": c.payload,
            "payload_hash": key[2],
            "plan_ids": [str(plan_id) for plan_id in c.plan_ids],
            "trace_id": c.trace_id,
            "stream_sequence": c.message.stream_sequence,
            "copies": copies[key],
        }
        for key, c in firsts.items()
    ]
    with prepared_cursor() as cursor:
        cursor.execute(STORE_SQL, [source, json.dumps(rows)], prepare=True)
        stored = {(org, subject, digest): pk for pk, org, subject, digest in cursor.fetchall()}
    results: dict[int, IngestResult] = {}
    accepted = []
    for c in candidates:
        key = keys[c.index]
        pk = stored[key]
        if c is firsts[key] and pk == c.new_id:
            accepted.append(pk)
            results[c.index] = IngestResult(pk, Outcome.ACCEPTED)
        else:
            results[c.index] = IngestResult(pk, Outcome.DUPLICATE, duplicate_of=pk)
    queue_after_commit(accepted)
    return results
