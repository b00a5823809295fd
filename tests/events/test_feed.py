"""The REST feed (events/feed.py) has no gaps and no repeats while transactions commit out of
id order: real concurrent transactions on the real PostgreSQL."""

import random
import threading
import time

import pytest
from django.db import connection, transaction

from events.feed import FeedFilters, FeedPosition, InvalidPosition, read_feed
from events.models import OutboxEvent
from plans import services
from plans.models import Plan
from tests.fixtures.domain import make_user
from tests.fixtures.waiting import PATIENCE

pytestmark = pytest.mark.django_db(transaction=True)


def drain(org, position=None, limit=100, filters=None):
    """Read the feed until caught up: (event ids in order, where to continue)."""
    seen = []
    while True:
        page = read_feed(org, position, limit, filters)
        seen += [OutboxEvent.objects.get(organization=org, payload=p).pk for _, p in page.events]
        position = page.next_position
        if page.caught_up:
            return seen, position


def new_plan(actor, template, org, name) -> Plan:
    return services.assign_plan(actor=actor, template=template, user=make_user(org, name))


def test_an_event_committed_after_a_later_id_is_neither_skipped_nor_repeated(actor, template, org):
    # Given two plans (their events lock different rows, so nothing orders the two writers)
    slow_plan = new_plan(actor, template, org, "slow")
    fast_plan = new_plan(actor, template, org, "fast")
    _, position = drain(org)
    slow_holds = threading.Event()
    slow_may_commit = threading.Event()
    slow_event = {}

    def slow_writer():
        try:
            with transaction.atomic():
                services.update_plan(actor=actor, plan=slow_plan, risk_status="high")
                slow_event["id"] = OutboxEvent.objects.latest("id").pk
                slow_holds.set()
                assert slow_may_commit.wait(PATIENCE)
        finally:
            connection.close()

    # When a transaction takes an event id and stays open
    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert slow_holds.wait(PATIENCE)
    # And another one takes a higher id and commits first
    services.update_plan(actor=actor, plan=fast_plan, risk_status="low")
    fast_id = OutboxEvent.objects.latest("id").pk
    assert fast_id > slow_event["id"]
    # Then the feed does not yet show the later one (it would have to skip the earlier one)
    during, position = drain(org, position)
    assert during == []
    # And once the first transaction commits, the feed shows both, each once
    slow_may_commit.set()
    thread.join(PATIENCE)
    after, position = drain(org, position)
    assert sorted(after) == sorted([slow_event["id"], fast_id]) and len(after) == 2
    # And nothing more comes later
    assert drain(org, position)[0] == []


def test_many_concurrent_writers_and_a_poller_see_every_event_exactly_once(actor, template, org):
    # Given plans written by several threads whose transactions stay open for random times
    plans = [new_plan(actor, template, org, f"p{index}") for index in range(6)]
    _, position = drain(org)
    writes_per_plan = 15
    stop = threading.Event()
    polled: list[int] = []

    def writer(plan: Plan, seed: int):
        chance = random.Random(seed)
        try:
            for round_number in range(writes_per_plan):
                with transaction.atomic():
                    services.update_plan(actor=actor, plan=plan, risk_status=f"r{round_number}")
                    time.sleep(chance.uniform(0, 0.01))
        finally:
            connection.close()

    def poller(start: FeedPosition):
        nonlocal position
        current = start
        try:
            while not stop.is_set():
                page = read_feed(org, current, limit=7)
                polled.extend(
                    OutboxEvent.objects.get(organization=org, payload=p).pk for _, p in page.events
                )
                current = page.next_position
            position = current
        finally:
            connection.close()

    # When they all write while a partner polls in small pages
    poll_thread = threading.Thread(target=poller, args=(position,))
    poll_thread.start()
    writers = [threading.Thread(target=writer, args=(plan, i)) for i, plan in enumerate(plans)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(PATIENCE * 4)
    stop.set()
    poll_thread.join(PATIENCE)
    rest, _ = drain(org, position)
    # Then the partner saw every event once: no gap, no repeat
    received = polled + rest
    written = list(
        OutboxEvent.objects.filter(organization=org, event_type="planUpdated").values_list(
            "pk", flat=True
        )
    )
    assert len(written) == len(plans) * writes_per_plan
    assert len(received) == len(set(received))
    assert sorted(received) == sorted(written)


def test_each_organization_reads_only_its_own_events(plan, other_plan, org, other_org):
    ours, _ = drain(org)
    theirs, _ = drain(other_org)
    assert ours and theirs and not set(ours) & set(theirs)
    assert set(OutboxEvent.objects.filter(pk__in=ours).values_list("organization", flat=True)) == {
        org.pk
    }


def test_filters_keep_the_cursor_moving(actor, plan, org):
    # Given events of two types
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    # When a partner reads only planUpdated
    only_updates, position = drain(org, filters=FeedFilters(event_type="planUpdated"))
    # Then it gets those, and its cursor is past the others too
    assert [OutboxEvent.objects.get(pk=pk).event_type for pk in only_updates] == ["planUpdated"]
    assert drain(org, position)[0] == []


ARABIC_ONE = "\u0661"  # a digit to str.isdigit(), not to the feed


@pytest.mark.parametrize(
    "text", ["", "1", "1.", ".1", "a.1", "1.-1", "1.1.1", f"{ARABIC_ONE}.1", "9" * 20 + ".1"]
)
def test_a_malformed_position_is_refused(text):
    with pytest.raises(InvalidPosition):
        FeedPosition.parse(text)


def test_a_position_reads_back():
    assert FeedPosition.parse(str(FeedPosition(123, 45))) == FeedPosition(123, 45)
