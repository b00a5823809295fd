"""The relay's guarantees, against the real nats-server (JetStream) and real PostgreSQL.

These tests commit (transaction=True): the relay reads the outbox through its own connections.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import transaction

from events.models import OutboxEvent, OutboxPending, OutboxPublication
from events.relay import Relay, backoff_delay
from plans import services
from plans.models import Plan
from tests.events.conftest import relay_config, run
from tests.fixtures.integrations import subprocess_database_url
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def unpublished() -> int:
    return OutboxPending.objects.count()


def event_ids_in_db() -> list[str]:
    return [str(e) for e in OutboxEvent.objects.order_by("id").values_list("event_id", flat=True)]


def assert_each_seen_once_in_commit_order(seen: list[tuple[dict, dict]]) -> None:
    """Every outbox event reached the subscriber once, and per plan in id (commit) order."""
    ids = [envelope["eventId"] for _headers, envelope in seen]
    assert Counter(ids) == Counter(event_ids_in_db()), "each event exactly once"
    expected = {}
    for plan_id, event_id in OutboxEvent.objects.order_by("id").values_list("plan_id", "event_id"):
        expected.setdefault(str(plan_id), []).append(str(event_id))
    actual = {}
    for _headers, envelope in seen:
        actual.setdefault(envelope["info"]["planId"], []).append(envelope["eventId"])
    assert actual == expected, "per plan, the stream holds the events in commit order"


def test_committed_events_are_published_with_their_headers(
    start_relay, read_stream, actor, plan, work_queue
):
    # Given a running relay
    start_relay()
    # When events commit
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="X")
    services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    # Then each is published on healix.<orgId>.<type>, marked, and seen once
    wait_until(lambda: unpublished() == 0)
    seen = read_stream()
    assert [envelope["messageType"] for _h, envelope in seen] == [
        "healix.hrh.planCreated",
        "healix.hrh.workQueueItemStatusUpdated",
        "healix.hrh.planUpdated",
    ]
    for headers, envelope in seen:
        assert headers["Nats-Msg-Id"] == envelope["eventId"]
        assert headers["Healix-Trace-Id"] == envelope["traceId"]
    assert_each_seen_once_in_commit_order(seen)
    # and recorded published at the first attempt, with nothing left pending
    ids = OutboxEvent.objects.order_by("id").values_list("id", flat=True)
    published = OutboxPublication.objects.order_by("event_id").values_list("event_id", "attempts")
    assert list(published) == [(pk, 1) for pk in ids]


def test_a_rolled_back_transaction_emits_nothing(
    start_relay, read_stream, actor, plan, emitted_events
):
    start_relay()
    # When a service emits inside a transaction that then rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_plan(actor=actor, plan=plan, risk_status="rolled-back")
        raise RuntimeError("the caller fails after the service")
    rolled_back = emitted_events[-1]["eventId"]
    # And then a later change commits
    services.update_plan(actor=actor, plan=plan, risk_status="committed")
    wait_until(lambda: unpublished() == 0 and OutboxEvent.objects.count() == 2)
    # Then the rolled-back event is neither in the outbox nor on the bus
    seen = read_stream()
    assert rolled_back not in event_ids_in_db()
    assert rolled_back not in [envelope["eventId"] for _h, envelope in seen]
    assert [e["info"].get("changes") for _h, e in seen][1] == [
        {"field": "riskStatus", "old": None, "new": "committed"}
    ]


def test_events_wait_out_a_nats_outage_and_are_published_once(
    start_relay, read_stream, nats_server, actor, plan, work_queue
):
    # Given a running relay that has published the plan's planCreated
    relay = start_relay()
    wait_until(lambda: unpublished() == 0)
    # When nats-server stops and services keep changing things
    nats_server.stop()
    try:
        item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="X")
        for status in ("in_service", "done", "waiting"):
            services.change_work_queue_item_status(actor=actor, item=item, status=status)
        for risk in ("low", "medium", "high"):
            services.update_plan(actor=actor, plan=plan, risk_status=risk)
        # Then the services succeeded and the events wait in the outbox
        time.sleep(1.0)
        assert unpublished() == 6
    finally:
        nats_server.start()
    # When the server is back, every event is published, once, in commit order
    wait_until(lambda: unpublished() == 0, timeout=60)
    seen = read_stream()
    assert len(seen) == 7
    assert_each_seen_once_in_commit_order(seen)
    assert relay.relay.stats.failed_batches >= 1  # it really tried during the outage


class KilledAfterPublishing(Exception):
    """Stands for the relay process dying between JetStream's acks and the mark."""


class RelayKilledBeforeMarking(Relay):
    database_down = True

    async def mark_published(self, ids):
        if self.database_down:
            raise KilledAfterPublishing
        await super().mark_published(ids)


async def _die_after_publishing(config) -> Relay:
    relay = RelayKilledBeforeMarking(config)
    with pytest.raises(KilledAfterPublishing):
        await relay.drain()
    # A dead process marks nothing; its connections (and its session's lock) just go away.
    await relay.close()
    return relay


async def _drain(config, relay_class: type[Relay] = Relay) -> Relay:
    relay = relay_class(config)
    try:
        await relay.drain()
    finally:
        await relay.close()
    return relay


def test_a_relay_killed_before_marking_is_deduplicated_by_jetstream(
    events_stream, read_stream, actor, plan
):
    # Given three committed events (planCreated and two planUpdated)
    services.update_plan(actor=actor, plan=plan, risk_status="low")
    services.update_plan(actor=actor, plan=plan, risk_status="high")
    # When a relay publishes them and dies before marking them published
    run(_die_after_publishing(relay_config()))
    assert unpublished() == 3
    assert len(read_stream()) == 3
    # Then the next relay publishes them again, and JetStream drops every copy
    successor = run(_drain(relay_config()))
    assert (successor.stats.published, successor.stats.duplicates) == (3, 3)
    assert unpublished() == 0
    assert_each_seen_once_in_commit_order(read_stream())


class CountingRelay(Relay):
    """A Relay counting its claims (each one a statement on the database)."""

    claims = 0

    async def claim(self, exclude=()):
        self.claims += 1
        return await super().claim(exclude)


def test_a_drain_stops_claiming_at_the_first_batch_short_of_full(
    events_stream, read_stream, actor, template, patient
):
    # Given five committed events (each plan's planCreated) and batches of two
    _make_plans(actor, template, patient, 5)
    # When a relay drains the queue
    relay = run(_drain(relay_config(batch_size=2), CountingRelay))
    # Then it claimed two full batches and the short last one, and asked no fourth time
    # only to find the queue empty
    assert (relay.stats.published, relay.claims) == (5, 3)
    assert unpublished() == 0
    assert_each_seen_once_in_commit_order(read_stream())


async def _mark_again(config, ids: list[int]) -> None:
    relay = Relay(config)
    try:
        await relay.mark_published(ids)
    finally:
        await relay.close()


def test_a_mark_retried_after_its_commit_changes_nothing(events_stream, actor, plan):
    # Given events published and marked
    services.update_plan(actor=actor, plan=plan, risk_status="low")
    run(_drain(relay_config()))
    publications = OutboxPublication.objects.order_by("event_id")
    marked = list(publications.values_list("event_id", "published_at", "attempts"))
    assert len(marked) == OutboxEvent.objects.count() == 2 and unpublished() == 0
    # When the same mark runs again (its first answer lost with the connection)
    run(_mark_again(relay_config(), [pk for pk, _at, _attempts in marked]))
    # Then the publish times and attempts are those of the first mark
    assert list(publications.values_list("event_id", "published_at", "attempts")) == marked


def _make_plans(actor, template, patient, count: int) -> list[Plan]:
    return [
        services.assign_plan(actor=actor, template=template, user=patient) for _ in range(count)
    ]


def test_two_relays_one_publishes_the_other_takes_over_when_it_stops(
    start_relay, read_stream, actor, template, patient
):
    # Given two relays running at once (small batches, so the work is many rounds)
    first, second = start_relay(batch_size=3), start_relay(batch_size=3)
    # When events of four plans interleave
    plans = _make_plans(actor, template, patient, 4)
    for round_number in range(6):
        for plan in plans:
            services.update_plan(actor=actor, plan=plan, risk_status=f"r{round_number}")
    wait_until(lambda: unpublished() == 0)
    # Then one relay published all 28 and the other stood by: nothing went out twice
    counts = sorted([first.relay.stats.published, second.relay.stats.published])
    assert counts == [0, 28]
    assert first.relay.stats.duplicates + second.relay.stats.duplicates == 0
    # When the active relay stops, the standby takes over and publishes what comes next
    active, standby = (first, second) if first.relay.stats.published else (second, first)
    active.stop()
    services.update_plan(actor=actor, plan=plans[0], risk_status="after the switch")
    wait_until(lambda: unpublished() == 0)
    assert standby.relay.stats.published == 1
    # And per plan, the stream holds every event once, in commit order
    assert_each_seen_once_in_commit_order(read_stream())


def test_relay_events_command_wakes_on_commit_and_stops_on_sigterm(
    events_stream, nats_server, actor, plan
):
    # Given `manage.py relay_events` with a sweep far longer than the test waits
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "NATS_URL": nats_server.url,
        "HEALIX_EVENTS_RELAY_SWEEP_SECONDS": "600",
    }
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "relay_events"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "started" in process.stdout.readline()
        wait_until(lambda: unpublished() == 0)  # the planCreated committed before it started
        time.sleep(0.5)  # idle now, waiting for a NOTIFY
        # When a change commits
        committed = time.monotonic()
        services.update_plan(actor=actor, plan=plan, risk_status="high")
        # Then it is published at once, not at the next sweep
        wait_until(lambda: unpublished() == 0, timeout=5)
        assert time.monotonic() - committed < 2
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "stopped" in output


def test_backoff_doubles_from_half_a_second_up_to_thirty():
    assert [round(backoff_delay(n, jitter=0), 2) for n in (1, 2, 3, 6, 7, 20)] == [
        0.5, 1.0, 2.0, 16.0, 30.0, 30.0
    ]  # fmt: skip
    assert 0.5 <= backoff_delay(1) <= 0.55  # jitter only lengthens, by at most 10 %


def test_a_relay_that_could_not_mark_marks_first_when_the_database_is_back(
    events_stream, read_stream, actor, plan
):
    # Given a relay whose database fails right after JetStream acked a batch
    services.update_plan(actor=actor, plan=plan, risk_status="low")

    async def scenario() -> Relay:
        relay = RelayKilledBeforeMarking(relay_config())
        with pytest.raises(KilledAfterPublishing):
            await relay.drain()
        # When the same (living) relay drains again once the database answers
        relay.database_down = False
        try:
            await relay.drain()
        finally:
            await relay.close()
        return relay

    relay = run(scenario())
    # Then it marks the acked rows without publishing them a second time
    assert unpublished() == 0
    assert (relay.stats.published, relay.stats.duplicates) == (2, 0)
    assert_each_seen_once_in_commit_order(read_stream())
