"""How the rules' bulk reads (rules/data.py) reach PostgreSQL: through the indexes that keep
a batch's cost to its own plans, however many events the organization has."""

import uuid

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from integrations.models import InboundEvent, InboundSource, InboundStatus
from plans.models import Plan
from rules.data import PlanRow, lock_plans
from rules.references import PLAN_ATTRIBUTES
from rules.sql import INBOUND_SQL, LOCK_PLANS_SQL

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"


def many_plans_with_an_event(org, template, patient, count: int) -> list[Plan]:
    now = timezone.now()
    plans = Plan.objects.bulk_create(
        Plan(organization=org, template=template, user=patient, title=f"plan {n}", start_date=now)
        for n in range(count)
    )
    InboundEvent.objects.bulk_create(
        InboundEvent(
            organization=org,
            subject=SUBJECT,
            source=InboundSource.REST,
            status=InboundStatus.ACCEPTED,
            payload={"planId": str(plan.pk), "timeSlot": f"slot {n}"},
            payload_hash=uuid.uuid4().hex,
            plan_ids=[plan.pk],
        )
        for n, plan in enumerate(plans)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum keeps a live database's statistics
    return plans


def test_a_batch_reads_its_plans_events_through_the_plan_ids_index(org, template, patient):
    # Given an organization with 2,000 events, one per plan, and its statistics
    plans = many_plans_with_an_event(org, template, patient, 2000)
    batch = [plan.pk for plan in plans[:500]]
    # When the rules read a batch of 500 plans' events
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {INBOUND_SQL}", [org.pk, [SUBJECT], batch])
        plan_text = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute(INBOUND_SQL, [org.pk, [SUBJECT], batch])
        found = {
            plan_id for plan_ids, _subject, _payload in cursor.fetchall() for plan_id in plan_ids
        }
    # Then PostgreSQL looks the batch up in the plan_ids GIN index rather than reading every
    # event of the organization (as it did given the ids as a literal array: it took most
    # events for overlapping), and finds exactly the batch's events
    assert "rules_inboundevent_plan_ids" in plan_text, plan_text
    assert found == set(batch)


def test_the_plan_ids_index_keeps_no_pending_list(db):
    # A GIN pending list is read whole by every search, once per key: the rules search
    # with a batch's 500 plan ids (rules/migrations/0004).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'rules_inboundevent_plan_ids'"
        )
        (options,) = cursor.fetchone()
    assert "fastupdate=off" in options


@pytest.mark.django_db(transaction=True)  # the plans committed, for another session to see
def test_the_locked_plans_are_read_under_their_lock_with_every_attribute_rules_read(
    org, template, patient, other_template, other_patient
):
    (plan,) = many_plans_with_an_event(org, template, patient, 1)
    (theirs,) = many_plans_with_an_event(
        other_template.organization, other_template, other_patient, 1
    )
    # Given a change committed after the caller read the plan
    Plan.objects.filter(pk=plan.pk).update(risk_status="high", custom_fields={"score": 7})
    with transaction.atomic():
        # When the rules lock it, with another template's plan among the ids
        (row,) = lock_plans([plan.pk, theirs.pk], template.pk)
        # Then they read it as it is now, with every attribute a table may name
        assert (row.pk, row.risk_status, row.custom_fields) == (plan.pk, "high", {"score": 7})
        read = set(PlanRow.__dataclass_fields__)
        assert {attribute for attribute, _type, _writable in PLAN_ATTRIBUTES.values()} <= read
        # And LOCK_PLANS_SQL's columns are PlanRow's fields, in the same order
        with connection.cursor() as cursor:
            cursor.execute(LOCK_PLANS_SQL, [[plan.pk], template.pk])
            columns = ["pk" if c.name == "id" else c.name for c in cursor.description]
        assert columns == list(PlanRow.__dataclass_fields__)
        # And it stays locked until the transaction ends; the other template's plan is not
        assert not lockable(plan.pk)
        assert lockable(theirs.pk)
    assert lockable(plan.pk)


def lockable(plan_id: uuid.UUID) -> bool:
    """Whether another session may lock the plan's row now."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM plans_plan WHERE id = %s FOR UPDATE NOWAIT", [plan_id])
            return cursor.fetchone() is not None
    except OperationalError:
        return False
    finally:
        other.close()
