"""`emit()`: write a system event to the outbox inside the caller's transaction.

Nothing is sent here. The row commits or rolls back with the change that caused it, and the
database wakes the relay at commit: a statement trigger on the outbox runs `pg_notify`, which
PostgreSQL delivers only when (and if) the transaction commits (migration 0002).

Order: the plan row is locked before the next sequence value is taken, so two transactions
emitting for the same plan do it one after the other, and their ids follow their commit order.
The relay publishes in id order per plan. A service that changes the plan locks it first with
lock_plan_row() (FOR UPDATE), which also reads what the envelope says about the plan, and hands
emit() the LockedPlan it got; emit() given none locks the row itself (FOR NO KEY UPDATE).
"""

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from events import envelopes
from events.envelopes import PlanFacts
from events.models import CurrentTransactionId, OutboxEvent, OutboxPending
from events.types import EventType, subject_for
from healix.models import Organization, User
from healix.observability.logcontext import bind
from healix.observability.tracing import current_trace_id, new_trace_id, trace
from healix.prepared import prepared_cursor
from plans.models import FormSubmission, Plan, WorkQueueItem, WorkQueueItemStatusChange

__all__ = [
    "MAX_EVENT_BYTES",
    "NOTIFY_CHANNEL",
    "LockedPlan",
    "emit",
    "encode_envelope",
    "lock_plan_row",
]

logger = logging.getLogger(__name__)

# The PostgreSQL channel the outbox trigger notifies and the relay listens on.
NOTIFY_CHANNEL = "healix_outbox"
# Largest envelope we publish, in bytes of UTF-8 JSON. nats-server refuses messages over its
# max_payload (1 MiB by default); half of it leaves room for headers and a tighter cluster
# setting. A bigger event could never be published and would block its plan's events behind it,
# so the change that would cause it is refused instead.
MAX_EVENT_BYTES = 512 * 1024

Info = tuple[Any, dict[str, Any]]  # (plan id, the type's own info fields)


def encode_envelope(envelope: Mapping[str, Any]) -> str:
    """The exact text stored and published: compact JSON, keys in the seed's order."""
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _plan_created(*, plan: Plan, role_assignments: Mapping[str, User]) -> Info:
    return plan.pk, envelopes.plan_created_info(
        template_name=plan.template.name,
        user_id=str(plan.user_id),
        role_assignments={role_id: str(user.pk) for role_id, user in role_assignments.items()},
    )


def _plan_updated(*, plan: Plan, changes: Mapping[str, tuple[Any, Any]]) -> Info:
    return plan.pk, envelopes.changes_info(changes)


def _form_submitted(*, submission: FormSubmission) -> Info:
    assignment = submission.assignment
    return assignment.plan_id, envelopes.form_submitted_info(
        form_name=assignment.definition.form.name,
        form_assignment_id=str(assignment.pk),
        data=submission.data,
    )


def _work_queue_item_status_updated(
    *, item: WorkQueueItem, change: WorkQueueItemStatusChange
) -> Info:
    location = item.service_location
    return item.plan_id, envelopes.work_queue_item_status_updated_info(
        work_queue_name=item.queue.name,
        work_queue_item_id=str(item.pk),
        status=change.new_status.status_id,
        old_status=change.old_status.status_id,
        priority=item.priority,
        service_location=location.name if location is not None else None,
    )


# Each type's builder: the service's objects in, the plan id and the info fields out.
BUILDERS: dict[EventType, Callable[..., Info]] = {
    EventType.PLAN_CREATED: _plan_created,
    EventType.PLAN_UPDATED: _plan_updated,
    EventType.FORM_SUBMITTED: _form_submitted,
    EventType.WORK_QUEUE_ITEM_STATUS_UPDATED: _work_queue_item_status_updated,
}


# _lock_plan_facts()'s query, written out as LOCK_PLAN_SQL below (and for the same reason:
# every formSubmitted and work queue event takes it): the ORM's select_for_update() with two
# values across joins cost about 0.6 ms of CPU to build, this one prepared statement about
# 0.1 ms (2026-12-05).
LOCK_PLAN_FACTS_SQL = f"""
SELECT p.organization_id, o.slug, u.is_test
FROM {Plan._meta.db_table} p
JOIN {Organization._meta.db_table} o ON o.id = p.organization_id
JOIN {User._meta.db_table} u ON u.id = p.user_id
WHERE p.id = %s
FOR NO KEY UPDATE OF p
"""


def _require_transaction() -> None:
    """A plan lock outside a transaction would end with its statement: refuse, as
    select_for_update() does."""
    if transaction.get_autocommit():
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )


def _lock_plan_facts(plan_id: Any) -> tuple[int, PlanFacts]:
    """Lock the plan row (orders this plan's events, see above) and read its organization and
    what every envelope says about it, in one query. Raises outside a transaction: emit()
    must run in the caller's."""
    _require_transaction()
    with prepared_cursor() as cursor:
        cursor.execute(LOCK_PLAN_FACTS_SQL, [plan_id], prepare=True)
        row = cursor.fetchone()
    if row is None:
        raise Plan.DoesNotExist(f"No plan {plan_id}.")
    organization_id, slug, is_test = row
    return organization_id, PlanFacts(plan_id=str(plan_id), org_id=slug, is_test=is_test)


@dataclass(frozen=True)
class LockedPlan:
    """A plan row the current transaction holds locked (from lock_plan_row()), and what its
    events' envelopes say about it."""

    organization_id: int
    facts: PlanFacts
    transaction_id: int  # the locking transaction's: emit() refuses the lock in another


# lock_plan_row()'s query, written out: on the path every plan change takes, the ORM's
# equivalent (select_for_update with two annotations across joins) cost about 0.67 ms of CPU
# to build and read, this about 0.28 ms (2026-12-04). `p.*` follows the model's columns; the
# two facts come in as attributes of the row.
LOCK_PLAN_SQL = f"""
SELECT p.*, o.slug AS envelope_org_id, u.is_test AS envelope_is_test,
  {CurrentTransactionId.template} AS locking_transaction_id
FROM {Plan._meta.db_table} p
JOIN {Organization._meta.db_table} o ON o.id = p.organization_id
JOIN {User._meta.db_table} u ON u.id = p.user_id
WHERE p.id = %s
FOR UPDATE OF p
"""


def lock_plan_row(plan_id: Any) -> tuple[Plan, LockedPlan]:
    """Lock the plan row FOR UPDATE and read it whole, with what emit() reads about it, in one
    query: for a service that changes the plan and then emits its event. The row as read, and
    the LockedPlan to hand to emit(). Raises outside a transaction, as select_for_update()."""
    _require_transaction()
    rows = list(Plan.objects.raw(LOCK_PLAN_SQL, [plan_id]))
    if not rows:
        raise Plan.DoesNotExist(f"No plan {plan_id}.")
    [row] = rows
    facts = PlanFacts(plan_id=str(row.pk), org_id=row.envelope_org_id, is_test=row.envelope_is_test)
    return row, LockedPlan(row.organization_id, facts, row.locking_transaction_id)


def _locked_plan_facts(locked: LockedPlan, plan_id: Any) -> tuple[int, PlanFacts]:
    """What lock_plan_row() read, after checking it is this event's plan and that we are still
    inside a transaction (the INSERT then checks it is the one that took the lock)."""
    if locked.facts.plan_id != str(plan_id):
        raise ValueError(
            f"Plan {locked.facts.plan_id} is locked, but the event is plan {plan_id}'s."
        )
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError("emit() runs inside the transaction that locked the plan.")
    return locked.organization_id, locked.facts


def emit(
    event_type: EventType, *, actor: User, locked: LockedPlan | None = None, **sources: Any
) -> OutboxEvent | None:
    """Write one event to the outbox; call it inside the service's transaction.

    `sources` are the service's objects the type's builder reads (see BUILDERS). `locked`:
    the plan as this transaction locked it with lock_plan_row(), if it did; without it, emit()
    locks the row itself. Returns the row, or None when there is nothing partners would see
    (a planUpdated with no visible change).
    """
    event_type = EventType(event_type)
    plan_id, info = BUILDERS[event_type](**sources)
    if event_type == EventType.PLAN_UPDATED and not info["changes"]:
        return None
    if locked is None:
        organization_id, facts = _lock_plan_facts(plan_id)
    else:
        organization_id, facts = _locked_plan_facts(locked, plan_id)
    event_id = uuid.uuid4()
    trace_id = current_trace_id() or new_trace_id()
    occurred_at = timezone.now()
    envelope = envelopes.envelope(
        event_type,
        facts=facts,
        requested_by=str(actor.pk),
        trace_id=trace_id,
        branch=settings.HEALIX_BRANCH,
        event_id=str(event_id),
        occurred_at=occurred_at,
        info=info,
    )
    payload = encode_envelope(envelope)
    size = len(payload.encode())
    if size > MAX_EVENT_BYTES:
        raise ValidationError(
            f"This change would publish a {event_type} event of {size} bytes; the bus takes "
            f"at most {MAX_EVENT_BYTES}. Make the data smaller."
        )
    row = _insert(
        OutboxEvent(
            organization_id=organization_id,
            event_id=event_id,
            event_type=event_type,
            subject=subject_for(facts.org_id, event_type),
            plan_id=plan_id,
            trace_id=trace_id,
            payload=payload,
            occurred_at=occurred_at,
        )
    )
    if locked is not None and row.transaction_id != locked.transaction_id:
        # A lock taken in an earlier transaction orders nothing now: the row is refused
        # (raising rolls it back with the caller's transaction).
        raise TransactionManagementError(
            "emit() was handed a plan lock taken in another transaction."
        )
    transaction.on_commit(partial(_log_written, row, facts.org_id), robust=True)
    return row


# emit()'s INSERT written out, as LOCK_PLAN_SQL: create() cost about 0.45 ms of CPU, this
# about 0.22 ms. transaction_id is the column's default (CurrentTransactionId); the other
# columns are the row's own, so a new field of the model is inserted too. The same statement
# puts the event in the relay's queue (OutboxPending): both rows or neither, no round trip more.
_INSERTED = [f for f in OutboxEvent._meta.concrete_fields if f.name not in ("id", "transaction_id")]
INSERT_SQL = f"""
WITH event AS (
    INSERT INTO {OutboxEvent._meta.db_table} ({", ".join(f.column for f in _INSERTED)})
    VALUES ({", ".join(["%s"] * len(_INSERTED))})
    RETURNING id, transaction_id
), queued AS (
    INSERT INTO {OutboxPending._meta.db_table} (id, attempts, last_error)
    SELECT id, 0, '' FROM event
)
SELECT id, transaction_id FROM event
"""


def _insert(row: OutboxEvent) -> OutboxEvent:
    """Insert `row` as create() would, and fill in its id and transaction id."""
    connection = transaction.get_connection()
    values = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _INSERTED]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, values)
        row.id, row.transaction_id = cursor.fetchone()
    row._state.adding = False
    row._state.db = connection.alias
    return row


def _log_written(row: OutboxEvent, org_slug: str) -> None:
    """Once committed (a rolled-back change wrote nothing)."""
    with trace(row.trace_id), bind(org_id=org_slug, event_id=row.event_id, plan_id=row.plan_id):
        logger.info("System event written: %s", row.event_type)
