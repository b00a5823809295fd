"""emit() makes the ids of one plan's events follow their commit order, also under concurrency."""

import threading

import pytest
from django.db import connection, transaction

from events.models import OutboxEvent
from plans import services
from plans.models import WorkQueueItem
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
