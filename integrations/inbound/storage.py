"""The writes of ingest_batch(): rejected rows, then one INSERT ... ON CONFLICT DO UPDATE
over the partial unique index of accepted rows that stores the first copy of each data and
counts every later copy on it, in a single statement."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from integrations.inbound.payloads import canonical_hash
from integrations.inbound.results import IngestResult, Message, Outcome
from integrations.inbound.schemas import Problem
from integrations.models import InboundEvent, InboundStatus
from rules.inbound_batching import queue_after_commit

__all__ = [
    "COUNT_DUPLICATE_SQL",
    "RAW_BODY_KEEP_CHARS",
    "Candidate",
    "rejected_row",
    "store_first_or_count",
    "text_of",
]

# How much of an unparseable body is kept for the admin: enough to see what went wrong.
RAW_BODY_KEEP_CHARS = 4096
TABLE = InboundEvent._meta.db_table
# One row per distinct data of the batch, with `copies` = how many messages carried it. A new
# row is accepted with the other copies already counted; an existing accepted row only has its
# count raised. The batch travels as one JSON document: the driver then sends one string
# instead of adapting thousands of values (its list adapter cost more than the insert), and the
# statement text never changes, so the server reuses its plan. Rows go in key order, which is
# the order their locks are taken in: two consumers counting the same data cannot deadlock.
STORE_SQL = f"""
INSERT INTO {TABLE} AS t (id, organization_id, subject, source, status, payload, raw_body,
    payload_hash, errors, plan_ids, duplicate_count, last_seen_at, received_at, trace_id,
    stream_sequence)
SELECT v.id, v.organization_id, v.subject, %s, 'accepted', v.payload, '', v.payload_hash, '[]',
    v.plan_ids, v.copies - 1, CASE WHEN v.copies > 1 THEN now() END, now(), v.trace_id,
    v.stream_sequence
FROM jsonb_to_recordset(%s::jsonb) AS v(id uuid, organization_id bigint, subject text,
    payload jsonb, payload_hash text, plan_ids uuid[], trace_id text, stream_sequence bigint,
    copies int)
ORDER BY v.organization_id, v.subject, v.payload_hash
ON CONFLICT (organization_id, subject, payload_hash) WHERE status = 'accepted'
DO UPDATE SET duplicate_count = t.duplicate_count + EXCLUDED.duplicate_count + 1,
    last_seen_at = now()
RETURNING t.id, t.organization_id, t.subject, t.payload_hash
"""
COUNT_DUPLICATE_SQL = f"""
UPDATE {TABLE} SET duplicate_count = duplicate_count + 1, last_seen_at = now()
WHERE organization_id = %s AND subject = %s AND payload_hash = %s AND status = 'accepted'
RETURNING id
"""


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
    with connection.cursor() as cursor:
        cursor.execute(STORE_SQL, [source, json.dumps(rows)])
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
