"""`ingest()`: the one path of every inbound message, whatever its source (REST, NATS, re-run).

parse -> find the subject's definitions -> route (planId / userId) -> validate -> hash the
canonical JSON (RFC 8785, SHA-256) -> INSERT ... ON CONFLICT on the partial unique index over
(organization, subject, hash) of accepted rows. The first copy is accepted and handed to the
rules after the commit; a later copy only bumps the first's duplicate count (the conflict's
DO UPDATE, in the same statement: see storage.py).
Whatever cannot succeed is stored as rejected, with one problem per reason.
"""

import json
import uuid
from contextlib import nullcontext
from dataclasses import replace
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from healix.models import Organization
from healix.observability import metrics
from healix.observability.tracing import current_trace_id, new_trace_id
from integrations.inbound import definitions, storage
from integrations.inbound.payloads import canonical_hash, has_nul, parse_body
from integrations.inbound.results import (
    INVALID,
    MALFORMED,
    TOO_LARGE,
    UNKNOWN_SUBJECT,
    IngestResult,
    Message,
    Outcome,
    Rejection,
    log_outcomes,
)
from integrations.inbound.routing import PlanIndex, route, routing_ids
from integrations.inbound.schemas import Problem, payload_problems
from integrations.models import (
    InboundEvent,
    InboundSource,
    InboundStatus,
)
from integrations.sql import COUNT_DUPLICATE_SQL
from rules.inbound_batching import queue_after_commit

__all__ = [
    "DefinitionCache",
    "IngestResult",
    "Message",
    "Outcome",
    "canonical_hash",
    "check_only",
    "ingest",
    "ingest_batch",
    "rerun",
]

# The stored subject's column width; definitions' subjects are at most 100 characters.
SUBJECT_MAX_CHARS = InboundEvent._meta.get_field("subject").max_length


class DefinitionCache:
    """What one batch of messages needs again and again: the subject's definitions (shared by
    the process for a moment, see integrations/inbound/definitions.py) and the plans the messages
    name
    (read once per batch)."""

    def __init__(self) -> None:
        self.plans = PlanIndex()

    def definitions(self, organization_id: int, subject: str) -> definitions.Definitions:
        # One lookup per message: its definitions and their validators come from the same
        # snapshot, even if the process-wide cache is refreshed meanwhile.
        return definitions.lookup(organization_id, subject)


def _check(
    organization_id: int, subject: str, body: bytes | str, cache: DefinitionCache
) -> tuple[Any, Rejection | None, list[Problem], list[uuid.UUID]]:
    """(payload, rejection, problems, target plan ids): everything short of writing."""
    size = len(body.encode() if isinstance(body, str) else body)
    if size > settings.HEALIX_INBOUND_MAX_BYTES:
        limit = settings.HEALIX_INBOUND_MAX_BYTES
        return None, TOO_LARGE, [Problem("#", f"{size} bytes; the limit is {limit}.")], []
    payload, problems = parse_body(body)
    if problems:
        return None, MALFORMED, problems, []
    if has_nul(payload):
        # PostgreSQL's jsonb cannot hold U+0000; such a payload can never be stored.
        return None, INVALID, [Problem("#", "The payload contains U+0000 (NUL).")], []
    found = cache.definitions(organization_id, subject)
    definitions = found.by_template
    if not definitions:
        detail = f"No template of this organization listens to subject {subject}."
        return payload, UNKNOWN_SUBJECT, [Problem("#", detail)], []
    if not isinstance(payload, dict):
        return payload, INVALID, [Problem("#", "The payload must be a JSON object.")], []
    target = route(organization_id, subject, payload, definitions, cache.plans)
    template_ids = target.template_ids or set(definitions)
    problems = list(target.problems)
    # Routing has already said what is wrong with planId / userId; the schema would say it
    # again in other words.
    routed = {problem.pointer for problem in target.problems}
    for template_id in sorted(template_ids):
        validator = found.validators[definitions[template_id].pk]
        for problem in payload_problems(validator, payload):
            if problem not in problems and problem.pointer not in routed:
                problems.append(problem)
    if problems:
        return payload, INVALID, sorted(problems, key=lambda p: p.pointer), []
    return payload, None, [], target.plan_ids


def check_only(
    organization_id: int, subject: str, body: bytes | str
) -> tuple[Rejection | None, list[Problem], list[uuid.UUID]]:
    """Every check ingest() makes, storing nothing: (why it would be rejected or None, its
    problems, the plans it would go to). The partner portal's "try a payload"."""
    _payload, rejection, problems, plan_ids = _check(
        organization_id, subject, body, DefinitionCache()
    )
    return rejection, problems, plan_ids


def ingest(
    organization: Organization | int,
    subject: str,
    body: bytes | str,
    source: str,
    *,
    stream_sequence: int | None = None,
    cache: DefinitionCache | None = None,
) -> IngestResult:
    """Store one inbound message (see the module doc); runs in the caller's transaction if
    there is one, else in its own."""
    organization_id = organization if isinstance(organization, int) else organization.pk
    slug = "" if isinstance(organization, int) else organization.slug
    message = Message(organization_id, subject, body, stream_sequence, org_slug=slug)
    return ingest_batch([message], source, cache=cache)[0]


def ingest_batch(
    messages: list[Message], source: str, *, cache: DefinitionCache | None = None
) -> list[IngestResult]:
    """ingest() for many messages at once, as the NATS consumer commits them: the same checks
    per message, then one INSERT for the rejected and one INSERT ... ON CONFLICT for the
    candidates, which stores first copies and counts the others. One result per message, in
    order."""
    source = InboundSource(source)
    cache = cache or DefinitionCache()
    started = metrics.now()
    # A longer subject, or one with NUL (which PostgreSQL text refuses), names no definition.
    messages = [
        replace(m, subject=m.subject[:SUBJECT_MAX_CHARS].replace("\x00", "\ufffd"))
        for m in messages
    ]
    # One message writes one row with one statement, atomic on its own: no BEGIN and COMMIT
    # round trips for a REST request (a caller's transaction still includes it).
    atomic = transaction.atomic(savepoint=False) if len(messages) > 1 else nullcontext()
    with atomic:
        _prefetch_plans(messages, cache)
        results: list[IngestResult | None] = [None] * len(messages)
        rejected: list[InboundEvent] = []
        candidates: list[storage.Candidate] = []
        traces = [m.trace_id or current_trace_id() or new_trace_id() for m in messages]
        for index, message in enumerate(messages):
            trace_id = traces[index]
            payload, rejection, problems, plan_ids = _check(
                message.organization_id, message.subject, message.body, cache
            )
            if rejection is None:
                candidates.append(
                    storage.Candidate(index, uuid.uuid4(), message, payload, plan_ids, trace_id)
                )
                continue
            event = storage.rejected_row(message, source, payload, problems, trace_id)
            rejected.append(event)
            results[index] = IngestResult(
                event.pk, Outcome.REJECTED, rejection=rejection, problems=problems
            )
        if rejected:
            InboundEvent.objects.bulk_create(rejected)
        for index, result in storage.store_first_or_count(candidates, source).items():
            results[index] = result
        # Logged and counted once committed: a batch rolled back and retried must not log or
        # count twice.
        transaction.on_commit(partial(log_outcomes, messages, results, traces, source), robust=True)
        transaction.on_commit(
            partial(metrics.count_ingest, messages, results, source, started), robust=True
        )
    return results  # type: ignore[return-value]


def _prefetch_plans(messages: list[Message], cache: DefinitionCache) -> None:
    """One query per organization for the plans (and users' open plans) a batch names; the
    bodies are parsed again in _check, which costs far less than a query per message."""
    if len(messages) < 2:
        return
    wanted: dict[int, tuple[set, set]] = {}
    for message in messages:
        try:
            plan_id, user_id = routing_ids(json.loads(message.body))
        except (ValueError, RecursionError):
            continue
        plan_ids, user_ids = wanted.setdefault(message.organization_id, (set(), set()))
        if plan_id is not None:
            plan_ids.add(plan_id)
        elif user_id is not None:
            user_ids.add(user_id)
    for organization_id, (plan_ids, user_ids) in wanted.items():
        cache.plans.prefetch(organization_id, plan_ids, user_ids)


@transaction.atomic
def rerun(event: InboundEvent) -> IngestResult:
    """Run a rejected event through the checks again (after its definition was fixed). Valid
    now: it becomes the accepted event, or, if the same data was accepted meanwhile, it stays
    rejected and is counted as a duplicate of that one. Once committed, its outcome is logged
    as ingest() logs a message's, under the event's own trace id."""
    result = _rerun(event)
    message = Message(event.organization_id, event.subject, b"", org_slug=event.organization.slug)
    traces = [event.trace_id or new_trace_id()]
    transaction.on_commit(
        partial(log_outcomes, [message], [result], traces, event.source), robust=True
    )
    return result


def _rerun(event: InboundEvent) -> IngestResult:
    event = InboundEvent.objects.select_for_update().get(pk=event.pk)
    if event.status != InboundStatus.REJECTED:
        raise ValueError("Only a rejected event is re-run.")
    body = event.raw_body if event.payload is None else json.dumps(event.payload)
    cache = DefinitionCache()
    payload, rejection, problems, plan_ids = _check(
        event.organization_id, event.subject, body, cache
    )
    if rejection is not None:
        event.errors = [problem.as_dict() for problem in problems]
        event.save(update_fields=["errors"])
        return IngestResult(event.pk, Outcome.REJECTED, rejection=rejection, problems=problems)
    digest = canonical_hash(payload)
    first = _count_on_first_copy(event, digest)
    if first is None:
        try:
            # A savepoint: a copy accepted since the count above trips the unique index, and
            # then this one is that copy's duplicate after all.
            with transaction.atomic():
                event.status = InboundStatus.ACCEPTED
                event.payload, event.payload_hash = payload, digest
                event.plan_ids, event.errors = plan_ids, []
                event.save(
                    update_fields=["status", "payload", "payload_hash", "plan_ids", "errors"]
                )
        except IntegrityError:
            event.status = InboundStatus.REJECTED
            first = _count_on_first_copy(event, digest)
    if first is not None:
        note = Problem("#", f"Valid now, but the same data was accepted as event {first}.")
        event.errors = [note.as_dict()]
        event.save(update_fields=["errors"])
        return IngestResult(first, Outcome.DUPLICATE, duplicate_of=first)
    queue_after_commit([event.pk])
    return IngestResult(event.pk, Outcome.ACCEPTED)


def _count_on_first_copy(event: InboundEvent, digest: str) -> uuid.UUID | None:
    """Count `event` on the accepted copy of the same data, if there is one; its id."""
    with connection.cursor() as cursor:
        cursor.execute(COUNT_DUPLICATE_SQL, [event.organization_id, event.subject, digest])
        row = cursor.fetchone()
    return row[0] if row is not None else None
