"""The writes of ingest_batch(): rejected rows, then every candidate with INSERT ... ON
CONFLICT DO NOTHING on the partial unique index of accepted rows, then one UPDATE counting the
copies that were not inserted on their first copy."""

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, connection
from django.utils import timezone

from integrations import handoff
from integrations.models import InboundEvent, InboundStatus
from integrations.payloads import canonical_hash
from integrations.results import IngestResult, Message, Outcome
from integrations.schemas import Problem

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
# Fixed statement texts with one array per column (not one placeholder per value): the
# driver then converts 9 parameters instead of thousands, and the server can reuse its plan.
INSERT_MANY_SQL = f"""
INSERT INTO {TABLE} (id, organization_id, subject, source, status, payload, raw_body,
    payload_hash, errors, plan_ids, duplicate_count, received_at, trace_id, stream_sequence)
SELECT v.id, v.organization_id, v.subject, %s, 'accepted', v.payload::jsonb, '',
    v.payload_hash, '[]', v.plan_ids::uuid[], 0, now(), v.trace_id, v.stream_sequence
FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
    %s::text[], %s::bigint[]) WITH ORDINALITY
    AS v(id, organization_id, subject, payload, payload_hash, plan_ids, trace_id, stream_sequence,
    ord)
ORDER BY v.ord  -- within a batch, the first copy is the one accepted
ON CONFLICT (organization_id, subject, payload_hash) WHERE status = 'accepted' DO NOTHING
RETURNING id
"""
COUNT_DUPLICATES_SQL = f"""
UPDATE {TABLE} t SET duplicate_count = t.duplicate_count + v.n, last_seen_at = now()
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[])
    AS v(organization_id, subject, payload_hash, n)
WHERE t.organization_id = v.organization_id AND t.subject = v.subject
  AND t.payload_hash = v.payload_hash AND t.status = 'accepted'
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
    """Insert every candidate with ON CONFLICT DO NOTHING; those that were not inserted (the
    same data is accepted already, or earlier in this batch) are counted on the first copy."""
    if not candidates:
        return {}
    keys = {c.index: c.key for c in candidates}
    columns = [
        [c.new_id for c in candidates],
        [c.message.organization_id for c in candidates],
        [c.message.subject for c in candidates],
        [json.dumps(c.payload) for c in candidates],
        [keys[c.index][2] for c in candidates],
        ["{" + ",".join(str(p) for p in c.plan_ids) + "}" for c in candidates],
        [c.trace_id for c in candidates],
        [c.message.stream_sequence for c in candidates],
    ]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_MANY_SQL, [source, *columns])
        inserted = {row[0] for row in cursor.fetchall()}
        results: dict[int, IngestResult] = {}
        copies: Counter[tuple[int, str, str]] = Counter()
        for c in candidates:
            if c.new_id in inserted:
                handoff.after_commit(c.new_id)
                results[c.index] = IngestResult(c.new_id, Outcome.ACCEPTED)
            else:
                copies[keys[c.index]] += 1
        if copies:
            groups = sorted(copies.items())  # one lock order for every consumer
            params = [[key[part] for key, _n in groups] for part in range(3)]
            cursor.execute(COUNT_DUPLICATES_SQL, [*params, [n for _key, n in groups]])
            firsts = {(org, subject, digest): pk for pk, org, subject, digest in cursor.fetchall()}
            for c in candidates:
                if c.index in results:
                    continue
                first = firsts.get(keys[c.index])
                if first is None:
                    # The first copy was deleted meanwhile: let the caller try again.
                    raise OperationalError("The first copy vanished while counting a duplicate.")
                results[c.index] = IngestResult(first, Outcome.DUPLICATE, duplicate_of=first)
    return results
