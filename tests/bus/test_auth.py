"""Bus access with an API key, end to end: the session's nats-server (configured with the
partners' account and the auth callout, as in production), a real `manage.py bus_auth`
process, and for the flows a real consume_bus and relay. These tests commit."""

import asyncio
import contextlib
import json

import nats
import pytest
from django.db import connection
from nats.errors import TimeoutError as NatsTimeout

from bus.access import JS_API_PREFIX, consumer_name, inbox_prefix
from bus.connections import SYSTEM_REPLY_WINDOW_SECONDS
from bus.inbound import REPLY_HEADER
from bus.topology import inbound_stream_name
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from integrations.models import InboundEvent
from tests.fixtures.bus import connect
from tests.fixtures.integrations import make_api_key
from tests.fixtures.processes import start_process, stop_process
from tests.fixtures.waiting import PATIENCE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "aiEngineTimeSlot"
EVENTS = "HEALIX_EVENTS"
# Seconds to wait for something that must NOT happen (a message that never comes).
QUIET = 1.0


def row(key: str) -> OrganizationAPIKey:
    return OrganizationAPIKey.objects.get_from_key(key)


def prefix_of(key: str) -> str:
    return inbox_prefix(row(key))


# --- What a key may do ----------------------------------------------------------------------


def test_key_publishes_inbound_event_that_is_ingested_with_answer(
    start_bus_auth, start_consume_bus, nats_server, org, plan
):
    # Given hrh's key with the default scopes, the callout and the consumer running
    key = make_api_key(org)
    start_bus_auth()
    start_consume_bus()
    prefix = prefix_of(key)

    async def scenario() -> dict:
        partner = await connect(nats_server.client_url, key, prefix)
        try:
            inbox = partner.nc.new_inbox()
            answers = await partner.nc.subscribe(inbox)
            body = json.dumps({"planId": str(plan.pk), "timeSlot": "8:00"}).encode()
            ack = await partner.js.publish(
                f"healix.hrh.inbound.{SUBJECT}", body, headers={REPLY_HEADER: inbox}
            )
            assert ack.stream == inbound_stream_name("hrh")
            return json.loads((await answers.next_msg(timeout=PATIENCE)).data)
        finally:
            await partner.nc.close()

    # When it publishes an inbound event over its own connection
    answer = asyncio.run(scenario())
    # Then the event is ingested for hrh, and the answer reaches the key's inbox
    event = InboundEvent.objects.get()
    assert answer == {"id": str(event.pk), "status": "accepted", "duplicateOf": None}
    assert (event.organization.slug, event.source, event.plan_ids) == ("hrh", "nats", [plan.pk])
    assert row(key).last_used_at is not None


def test_key_receives_plan_created_by_subscription_and_by_its_consumer(
    start_bus_auth, start_relay, nats_server, org, plan, other_plan
):
    # Given hrh's key, connected and listening both ways before the relay publishes
    # (plan and other_plan wait in the outbox)
    key = make_api_key(org)
    start_bus_auth()
    prefix, consumer_of_key = prefix_of(key), consumer_name(row(key))

    async def scenario() -> tuple[list, list]:
        partner = await connect(nats_server.client_url, key, prefix)
        try:
            live = await partner.nc.subscribe("healix.hrh.*")
            consumer = await partner.js.pull_subscribe(
                "healix.hrh.*", durable=consumer_of_key, stream=EVENTS
            )
            await asyncio.to_thread(start_relay)
            heard = [await live.next_msg(timeout=PATIENCE)]
            fetched = await consumer.fetch(10, timeout=PATIENCE)
            for message in fetched:
                await message.ack()
            with contextlib.suppress(NatsTimeout):
                heard.append(await live.next_msg(timeout=QUIET))
            info = await partner.js.consumer_info(EVENTS, consumer_of_key)
            assert info.num_ack_pending == 0, "the acks went through"
            return heard, fetched
        finally:
            await partner.nc.close()

    heard, fetched = asyncio.run(scenario())
    # Then both got hrh's planCreated, and nothing of the other organization's plan
    for messages in (heard, fetched):
        assert [(m.subject, json.loads(m.data)["info"]["planId"]) for m in messages] == [
            ("healix.hrh.planCreated", str(plan.pk))
        ]


# --- What it may not do ---------------------------------------------------------------------


REFUSED = [
    # (what, coroutine factory taking the partner, the subject the violation names)
    (
        "publishing to another organization's inbound subjects",
        lambda p: p.nc.publish("healix.other.inbound.aiEngineTimeSlot", b"{}"),
        "healix.other.inbound.aiEngineTimeSlot",
    ),
    (
        "subscribing to another organization's events",
        lambda p: p.nc.subscribe("healix.other.*"),
        "healix.other.*",
    ),
    (
        "subscribing to every organization's events",
        lambda p: p.nc.subscribe("healix.>"),
        "healix.>",
    ),
    (
        "creating a consumer on another organization's subjects",
        lambda p: p.nc.publish(
            f"{JS_API_PREFIX}.CONSUMER.CREATE.{EVENTS}.spy.healix.other.*",
            json.dumps({"stream_name": EVENTS, "config": {"name": "spy"}}).encode(),
        ),
        f"{JS_API_PREFIX}.CONSUMER.CREATE.{EVENTS}.spy.healix.other.*",
    ),
    (
        "creating a consumer through the streams account's own API subjects",
        lambda p: p.nc.publish(f"$JS.API.CONSUMER.CREATE.{EVENTS}.spy.healix.other.*", b"{}"),
        f"$JS.API.CONSUMER.CREATE.{EVENTS}.spy.healix.other.*",
    ),
    (
        "deleting a stream",
        lambda p: p.nc.publish(f"{JS_API_PREFIX}.STREAM.DELETE.HEALIX_INBOUND_hrh", b""),
        f"{JS_API_PREFIX}.STREAM.DELETE.HEALIX_INBOUND_hrh",
    ),
    (
        "creating a stream",
        lambda p: p.nc.publish(f"{JS_API_PREFIX}.STREAM.CREATE.MINE", b"{}"),
        f"{JS_API_PREFIX}.STREAM.CREATE.MINE",
    ),
    (
        "purging a stream",
        lambda p: p.nc.publish(f"$JS.API.STREAM.PURGE.{EVENTS}", b""),
        f"$JS.API.STREAM.PURGE.{EVENTS}",
    ),
    (
        "listing the streams",
        lambda p: p.nc.publish(f"{JS_API_PREFIX}.STREAM.LIST", b""),
        f"{JS_API_PREFIX}.STREAM.LIST",
    ),
    (
        "reading another organization's consumer",
        lambda p: p.nc.publish(f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{EVENTS}.other_x", b""),
        f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{EVENTS}.other_x",
    ),
    (
        "asking the system account",
        lambda p: p.nc.publish("$SYS.REQ.SERVER.PING", b""),
        "$SYS.REQ.SERVER.PING",
    ),
    (
        "answering authorization requests",
        lambda p: p.nc.subscribe("$SYS.REQ.USER.AUTH"),
        "$SYS.REQ.USER.AUTH",
    ),
    (
        "reading another key's replies",
        lambda p: p.nc.subscribe("_INBOX.>"),
        "_INBOX.>",
    ),
]


@pytest.mark.parametrize(
    ("attempt", "subject"),
    [(attempt, subject) for _what, attempt, subject in REFUSED],
    ids=[what for what, _attempt, _subject in REFUSED],
)
def test_key_is_refused_outside_its_organization(
    start_bus_auth, nats_server, org, attempt, subject
):
    # Given hrh's key with every scope, connected
    key = make_api_key(org)
    start_bus_auth()
    prefix = prefix_of(key)

    async def scenario() -> str:
        partner = await connect(nats_server.client_url, key, prefix)
        try:
            # When it tries
            await attempt(partner)
            await partner.nc.flush()
            return await partner.violation(subject)
        finally:
            await partner.nc.close()

    # Then the server refuses it as a permissions violation
    assert "permissions violation" in asyncio.run(scenario())


def test_scopes_decide_what_the_connection_may_do(start_bus_auth, nats_server, org):
    # Given a key that may only send inbound events, and one that may only read events
    writer = make_api_key(org, "writer", scopes=[Scope.INBOUND_WRITE])
    reader = make_api_key(org, "reader", scopes=[Scope.EVENTS_READ])
    start_bus_auth()
    writer_prefix, reader_prefix = prefix_of(writer), prefix_of(reader)

    async def scenario() -> tuple[str, str]:
        sender = await connect(nats_server.client_url, writer, writer_prefix)
        listener = await connect(nats_server.client_url, reader, reader_prefix)
        try:
            await sender.nc.subscribe("healix.hrh.*")
            await listener.nc.publish(f"healix.hrh.inbound.{SUBJECT}", b"{}")
            await sender.nc.flush()
            await listener.nc.flush()
            return (
                await sender.violation("healix.hrh.*"),
                await listener.violation(f"healix.hrh.inbound.{SUBJECT}"),
            )
        finally:
            await sender.nc.close()
            await listener.nc.close()

    # Then each is refused what its scopes do not give
    sender_error, listener_error = asyncio.run(scenario())
    assert "subscription" in sender_error
    assert "publish" in listener_error


def test_replies_cannot_reach_the_platforms_streams(
    start_bus_auth, inbound_stream, nats_server, org, plan, other_org
):
    """NATS checks no permission on a reply subject: the partners' own account is what keeps
    a reply aimed at another organization's inbound subject out of that organization's
    stream."""
    inbound_stream()  # both organizations' streams
    key = make_api_key(org)
    start_bus_auth()
    prefix, consumer_of_key = prefix_of(key), consumer_name(row(key))
    forged = "healix.other.inbound.aiEngineTimeSlot"

    async def scenario() -> int:
        partner = await connect(nats_server.client_url, key, prefix)
        watcher = await nats.connect(nats_server.url)
        try:
            seen = await watcher.subscribe("healix.other.>")
            # JetStream's publish ack, and a pull of the key's events, both aimed at `forged`
            await partner.nc.publish(f"healix.hrh.inbound.{SUBJECT}", b"{}", reply=forged)
            await partner.nc.publish(
                f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{EVENTS}.{consumer_of_key}",
                b'{"batch": 10, "no_wait": true}',
                reply=forged,
            )
            await partner.nc.flush()
            with contextlib.suppress(NatsTimeout):
                message = await seen.next_msg(timeout=QUIET)
                raise AssertionError(f"a reply reached {message.subject}")
            info = await watcher.jetstream().stream_info(
                inbound_stream_name("other"), subjects_filter="healix.other.>"
            )
            return info.state.messages if info.state.subjects else 0
        finally:
            await partner.nc.close()
            await watcher.close()

    assert asyncio.run(scenario()) == 0


# --- Refusals and revocation ----------------------------------------------------------------


async def _refusal(url: str, token: str | None) -> str:
    try:
        partner = await connect(url, token)
    except nats.errors.Error as error:
        return str(error)
    await partner.nc.close()
    raise AssertionError("connected")


def test_wrong_or_missing_token_is_refused_alike(start_bus_auth, nats_server, org, caplog):
    # Given an existing key
    key = make_api_key(org)
    start_bus_auth()
    prefix = key.partition(".")[0]
    tokens = {
        "missing": None,
        "empty": "",
        "unknown key": "Zz9Zz9Zz.thisKeyDoesNotExistAnywhere000000",
        "existing prefix, wrong secret": f"{prefix}.thisIsNotTheSecret0000000000000",
        "the prefix alone": prefix,
    }
    # When each is presented, Then each is refused with the same answer
    answers = {what: asyncio.run(_refusal(nats_server.client_url, t)) for what, t in tokens.items()}
    assert set(answers.values()) == {"nats: 'Authorization Violation'"}, answers


def test_revoked_or_expired_key_cannot_connect(start_bus_auth, nats_server, org):
    from django.utils import timezone

    revoked = make_api_key(org, "revoked")
    expired = make_api_key(org, "expired", expiry_date=timezone.now())
    unscoped = make_api_key(org, "unscoped", scopes=[Scope.PLANS_READ])
    OrganizationAPIKey.objects.filter(prefix=revoked.partition(".")[0]).update(revoked=True)
    start_bus_auth()
    for key in (revoked, expired, unscoped):
        assert asyncio.run(_refusal(nats_server.client_url, key)) == (
            "nats: 'Authorization Violation'"
        )


def _revoke(key: str) -> None:
    try:
        OrganizationAPIKey.objects.filter(prefix=key.partition(".")[0]).update(revoked=True)
    finally:
        connection.close()  # this thread's connection, so that the flush at teardown runs


def test_revoked_keys_connection_is_closed_within_the_check_period(
    start_bus_auth, nats_server, org
):
    # Given sweeps every second, and two keys connected (allowed to reconnect, as clients are)
    period = 1.0
    kept, revoked = make_api_key(org, "kept"), make_api_key(org, "revoked")
    start_bus_auth(check_seconds=period)
    kept_prefix, revoked_prefix = prefix_of(kept), prefix_of(revoked)

    async def scenario() -> tuple[float, bool]:
        disconnected, closed = asyncio.Event(), asyncio.Event()

        async def on_disconnected() -> None:
            disconnected.set()

        async def on_closed() -> None:
            closed.set()

        survivor = await connect(nats_server.client_url, kept, kept_prefix)
        victim = await connect(
            nats_server.client_url,
            revoked,
            revoked_prefix,
            allow_reconnect=True,
            max_reconnect_attempts=3,
            reconnect_time_wait=0.1,
            disconnected_cb=on_disconnected,
            closed_cb=on_closed,
        )
        try:
            listening = await survivor.nc.subscribe("healix.hrh.*")
            # When one key is revoked
            await asyncio.to_thread(_revoke, revoked)
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(disconnected.wait(), PATIENCE)
            waited = asyncio.get_running_loop().time() - started
            # ... its reconnects are refused, so the client gives up
            await asyncio.wait_for(closed.wait(), PATIENCE)
            # ... the other lives through the following sweeps and still gets messages
            await asyncio.sleep(2 * period)
            publisher = await nats.connect(nats_server.url)
            await publisher.publish("healix.hrh.planCreated", b"{}")
            await publisher.close()
            await listening.next_msg(timeout=PATIENCE)
            return waited, survivor.nc.is_connected
        finally:
            await survivor.nc.close()
            await victim.nc.close()

    waited, survivor_connected = asyncio.run(scenario())
    # Then the revoked key's connection was closed within the period plus a sweep's own time
    # (its wait for the servers' answers): the bound docs/bus-access.md states
    assert waited <= period + SYSTEM_REPLY_WINDOW_SECONDS + 2

    assert survivor_connected


def test_connection_is_closed_when_its_keys_scopes_change(start_bus_auth, nats_server, org):
    # Given a key connected with both bus scopes, sweeps every second
    key = make_api_key(org, scopes=[Scope.INBOUND_WRITE, Scope.EVENTS_READ])
    start_bus_auth(check_seconds=1.0)
    prefix = prefix_of(key)

    async def scenario() -> list[str]:
        disconnected = asyncio.Event()

        async def on_disconnected() -> None:
            disconnected.set()

        partner = await connect(
            nats_server.client_url, key, prefix, disconnected_cb=on_disconnected
        )
        try:
            # When an administrator takes events:read away
            await asyncio.to_thread(_narrow, key)
            # Then the connection is closed; a new one gets the narrower permissions
            await asyncio.wait_for(disconnected.wait(), PATIENCE)
            again = await connect(nats_server.client_url, key, prefix)
            try:
                await again.nc.subscribe("healix.hrh.*")
                await again.nc.flush()
                return [await again.violation("healix.hrh.*")]
            finally:
                await again.nc.close()
        finally:
            await partner.nc.close()

    assert asyncio.run(scenario())


def _narrow(key: str) -> None:
    try:
        OrganizationAPIKey.objects.filter(prefix=key.partition(".")[0]).update(
            scopes=[Scope.INBOUND_WRITE]
        )
    finally:
        connection.close()


def test_bus_auth_idles_when_the_callout_is_not_configured(process_env, tmp_path):
    unconfigured = {
        name: value
        for name, value in process_env.items()
        if name not in ("HEALIX_BUS_AUTH_NATS_URL", "HEALIX_BUS_AUTH_ISSUER_SEED")
    }
    process = start_process(["bus_auth"], unconfigured, tmp_path / "idle.log")
    try:
        wait_until(lambda: "bus_auth idle" in process.log.read_text() or process.poll())
        assert process.poll() is None, process.log.read_text()  # alive: honcho runs on
    finally:
        stop_process(process)
    assert process.returncode == 0
