"""emit() makes the ids of one plan's events follow their commit order, also under concurrency."""

import json
import threading

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from events import EventType, outbox
from events.models import OutboxEvent
from plans import services
from plans.models import Plan, WorkQueueItem
from tests.fixtures.waiting import PATIENCE

pytestmark = pytest.mark.django_db(transaction=True)

# Seconds the second transaction is given to (wrongly) get past the first one's lock.
RACE_WINDOW = 1.0


def change_status_in_thread(actor, item_id, status, done: threading.Event) -> threading.Thread:
    def work():
        try:
            item = WorkQueueItem.objects.get(pk=item_id)
            services.change_work_queue_item_status(actor=actor, item=item, status=status)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_a_second_transaction_of_the_same_plan_waits_for_the_first_to_commit(
    actor, plan, work_queue
):
    # Given two items of one plan (status changes lock the item, not the plan)
    first = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="A")
    second = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="B")
    # When a transaction emits for the plan and stays open
    done = threading.Event()
    with transaction.atomic():
        services.change_work_queue_item_status(actor=actor, item=first, status="in_service")
        first_id = OutboxEvent.objects.latest("id").id
        # And another transaction changes the other item of the same plan meanwhile
        thread = change_status_in_thread(actor, second.pk, "done", done)
        # Then the second cannot emit before the first commits
        assert not done.wait(RACE_WINDOW), "the second transaction did not wait for the first"
    thread.join(PATIENCE)
    assert done.is_set()
    # And its event comes after the first one's in id order, as in commit order
    events = list(OutboxEvent.objects.filter(event_type="workQueueItemStatusUpdated"))
    ids = sorted(event.id for event in events)
    assert len(ids) == 2 and ids[0] == first_id


def test_a_second_update_of_the_same_plan_waits_for_the_first_to_commit(actor, plan):
    # update_plan's lock_plan_row() is the plan's only lock: emit() takes what it read
    done = threading.Event()

    def update_in_thread():
        try:
            stale = Plan.objects.get(pk=plan.pk)
            services.update_plan(actor=actor, plan=stale, risk_status="second")
        finally:
            connection.close()
            done.set()

    # When a transaction updates the plan and stays open
    with transaction.atomic():
        services.update_plan(actor=actor, plan=plan, risk_status="first")
        first_id = OutboxEvent.objects.latest("id").id
        # And another transaction updates the same plan meanwhile
        thread = threading.Thread(target=update_in_thread)
        thread.start()
        # Then the second cannot emit before the first commits
        assert not done.wait(RACE_WINDOW), "the second transaction did not wait for the first"
    thread.join(PATIENCE)
    assert done.is_set()
    # And it saw the first's change, and its event comes after the first one's
    events = OutboxEvent.objects.filter(event_type="planUpdated").order_by("id")
    assert [event.id == first_id for event in events] == [True, False]
    changes = [json.loads(event.payload)["info"]["changes"] for event in events]
    assert changes[1] == [{"field": "riskStatus", "old": "first", "new": "second"}]


def test_locking_a_plan_for_its_events_needs_a_transaction(plan):
    with pytest.raises(TransactionManagementError):
        outbox.lock_plan_row(plan.pk)


def test_emit_locking_the_plan_itself_needs_a_transaction_and_a_plan(actor, plan):
    with pytest.raises(TransactionManagementError):
        emit_risk_change(actor, plan, None)
    plan.pk = "00000000-0000-4000-8000-000000000000"  # no such plan
    with pytest.raises(Plan.DoesNotExist), transaction.atomic():
        emit_risk_change(actor, plan, None)
    assert not OutboxEvent.objects.filter(event_type="planUpdated").exists()


def emit_risk_change(actor, plan, locked: outbox.LockedPlan | None) -> None:
    outbox.emit(
        EventType.PLAN_UPDATED,
        actor=actor,
        plan=plan,
        changes={"risk_status": ("", "high")},
        locked=locked,
    )


def test_emit_refuses_a_lock_whose_transaction_is_over(actor, plan):
    with transaction.atomic():
        _row, locked = outbox.lock_plan_row(plan.pk)
    with pytest.raises(TransactionManagementError):
        emit_risk_change(actor, plan, locked)
    assert not OutboxEvent.objects.filter(event_type="planUpdated").exists()


def test_emit_refuses_a_lock_taken_in_an_earlier_transaction(actor, plan):
    # Given a plan lock taken, and its transaction committed
    with transaction.atomic():
        _row, stale = outbox.lock_plan_row(plan.pk)
    # When a later transaction hands it to emit() without locking the plan itself
    with pytest.raises(TransactionManagementError), transaction.atomic():
        emit_risk_change(actor, plan, stale)
    # Then no event was written: nothing ordered it behind the plan's other changes
    assert not OutboxEvent.objects.filter(event_type="planUpdated").exists()


def test_emit_refuses_the_lock_of_another_plan(actor, plan, template, patient):
    other = services.assign_plan(actor=actor, template=template, user=patient)
    with transaction.atomic():
        _row, locked = outbox.lock_plan_row(other.pk)
        with pytest.raises(ValueError):
            emit_risk_change(actor, plan, locked)
    assert not OutboxEvent.objects.filter(event_type="planUpdated").exists()
