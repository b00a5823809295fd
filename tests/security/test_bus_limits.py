"""Threat: a noisy neighbour on the bus.

A partner's user JWT carried no limits, and nats-server applies none of a callout user's JWT
limits anyway (tested with 2.15: it takes only the permissions from it). So one key could hold
any number of connections, subscriptions of any number, messages of any size the server
takes, and make the server hold any number of unacknowledged events for it. Now: connections
per key (bus_auth refuses more, its sweep closes any excess), subscriptions per connection
and payload size (the partners' account `limits`, which nats-server enforces), events pending
per key (its consumer's max_ack_pending). docs/bus-access.md, "Limits", says what NATS does
not offer (a publish rate).
"""

import asyncio
import contextlib
import json

import nats
import pytest
from django.conf import settings
from nats.errors import TimeoutError as NatsTimeout

from bus.access import consumer_name, inbox_prefix
from bus.topology import inbound_stream_name
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from tests.fixtures.bus import Partner, connect
from tests.fixtures.integrations import make_api_key
from tests.fixtures.processes import stop_process
from tests.fixtures.waiting import PATIENCE

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = "HEALIX_EVENTS"
REFUSED = "nats: 'Authorization Violation'"


def row(key: str) -> OrganizationAPIKey:
    return OrganizationAPIKey.objects.get_from_key(key)


async def try_connect(url: str, key: str, prefix: str, **options) -> Partner | str:
    """The connection, or the error that refused it."""
    try:
        return await connect(url, key, prefix, **options)
    except nats.errors.Error as error:
        return str(error)


async def close_all(partners) -> None:
    for partner in partners:
        if isinstance(partner, Partner):
            await partner.nc.close()


async def closed_by_server(partner: Partner) -> bool:
    """Whether the server closed `partner`'s connection (within PATIENCE)."""
    for _ in range(int(PATIENCE / 0.05)):
        if partner.nc.is_closed:
            return True
        await asyncio.sleep(0.05)
    return False


def test_given_a_key_at_its_connection_limit_then_one_more_is_refused_and_others_are_not(
    start_bus_auth, nats_server, org, other_org
):
    # Given at most 2 connections per key, and the other organization's key
    hostile_key, neighbour_key = make_api_key(other_org, "hostile"), make_api_key(org, "nb")
    start_bus_auth(HEALIX_BUS_MAX_CONNECTIONS_PER_KEY=2)
    hostile_prefix, neighbour_prefix = prefix_of(hostile_key), prefix_of(neighbour_key)
    url = nats_server.client_url

    async def scenario() -> tuple[list, object, object, object]:
        held = []
        try:
            # When the hostile key opens connections, one after another
            for _ in range(3):
                held.append(await try_connect(url, hostile_key, hostile_prefix))
            # (the neighbour connects meanwhile)
            neighbour = await try_connect(url, neighbour_key, neighbour_prefix)
            held.append(neighbour)
            # and once one of its own closes, it may connect again
            await held[0].nc.close()
            again = None
            for _ in range(int(PATIENCE / 0.1)):
                again = await try_connect(url, hostile_key, hostile_prefix)
                if isinstance(again, Partner):
                    break
                await asyncio.sleep(0.1)
            held.append(again)
            return held[:3], neighbour, again, held
        finally:
            await close_all(held)

    hostile, neighbour, again, _held = asyncio.run(scenario())
    # Then the third is refused, as every refusal is
    assert [isinstance(c, Partner) for c in hostile[:2]] == [True, True]
    assert hostile[2] == REFUSED
    # and the other organization's key connects as usual, and so does a freed slot
    assert isinstance(neighbour, Partner)
    assert isinstance(again, Partner)


def test_given_more_connections_than_allowed_then_the_sweep_closes_the_newest(
    start_bus_auth, nats_server, org, other_org
):
    # Given a key holding 3 connections, then bus_auth restarted with a limit of 1 per key
    hostile_key, neighbour_key = make_api_key(other_org, "hostile"), make_api_key(org, "nb")
    first = start_bus_auth(HEALIX_BUS_MAX_CONNECTIONS_PER_KEY=3)
    hostile_prefix, neighbour_prefix = prefix_of(hostile_key), prefix_of(neighbour_key)
    url = nats_server.client_url

    async def scenario() -> tuple[list[bool], bool]:
        hostile = [await connect(url, hostile_key, hostile_prefix) for _ in range(3)]
        neighbour = await connect(url, neighbour_key, neighbour_prefix)
        try:
            await asyncio.to_thread(stop_process, first)
            # When the sweep (every second) runs with the lower limit
            await asyncio.to_thread(
                start_bus_auth, check_seconds=1, HEALIX_BUS_MAX_CONNECTIONS_PER_KEY=1
            )
            await closed_by_server(hostile[2])
            await closed_by_server(hostile[1])
            await asyncio.sleep(2)  # two more sweeps
            return [p.nc.is_closed for p in hostile], neighbour.nc.is_closed
        finally:
            await close_all([*hostile, neighbour])

    hostile_closed, neighbour_closed = asyncio.run(scenario())
    # Then the newest two of its connections are closed, the oldest kept, the neighbour's too
    assert hostile_closed == [False, True, True]
    assert neighbour_closed is False


def test_given_a_connection_over_its_subscription_limit_then_the_server_refuses_it_alone(
    start_bus_auth, nats_server, org, other_org
):
    # Given the partners' limit of subscriptions per connection, and two organizations' keys
    hostile_key, neighbour_key = make_api_key(other_org, "hostile"), make_api_key(org, "nb")
    start_bus_auth()
    hostile_prefix, neighbour_prefix = prefix_of(hostile_key), prefix_of(neighbour_key)
    limit = settings.HEALIX_BUS_LIMITS.subscriptions

    async def scenario() -> tuple[bool, str, bool]:
        hostile = await connect(nats_server.client_url, hostile_key, hostile_prefix)
        neighbour = await connect(nats_server.client_url, neighbour_key, neighbour_prefix)
        try:
            # When the hostile key subscribes one more time than allowed
            for n in range(limit + 1):
                with contextlib.suppress(nats.errors.Error):
                    await hostile.nc.subscribe(f"{hostile_prefix}.s{n}")
            with contextlib.suppress(nats.errors.Error):
                await hostile.nc.flush(timeout=5)
            # (nats-py closes its connection on the server's error)
            hostile_closed = await closed_by_server(hostile)
            # (the neighbour still works: it subscribes and publishes)
            await neighbour.nc.subscribe(f"{neighbour_prefix}.ok")
            await neighbour.nc.flush(timeout=5)
            return hostile_closed, str(hostile.nc.last_error), neighbour.nc.is_connected
        finally:
            await close_all([hostile, neighbour])

    hostile_closed, error, neighbour_connected = asyncio.run(scenario())
    # Then the server refused the subscription past the limit, for that connection only
    assert hostile_closed
    assert "maximum subscriptions exceeded" in error
    assert neighbour_connected


def test_given_a_message_over_the_payload_limit_then_it_is_refused_and_never_stored(
    start_bus_auth, nats_server, org, other_org, inbound_stream
):
    # Given the partners' payload limit, and the organizations' streams
    inbound_stream()
    hostile_key = make_api_key(other_org, "hostile", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    hostile_prefix = prefix_of(hostile_key)
    too_big = b'{"timeSlot": "' + b"x" * settings.HEALIX_BUS_LIMITS.payload_bytes + b'"}'

    async def scenario() -> tuple[bool, str, int]:
        hostile = await connect(nats_server.client_url, hostile_key, hostile_prefix)
        platform = await nats.connect(nats_server.url)
        try:
            # When the hostile key publishes a bigger message
            with contextlib.suppress(nats.errors.Error):
                await hostile.nc.publish("healix.other.inbound.aiEngineTimeSlot", too_big)
                await hostile.nc.flush(timeout=5)
            closed = await closed_by_server(hostile)
            info = await platform.jetstream().stream_info(inbound_stream_name("other"))
            return closed, str(hostile.nc.last_error), info.state.messages
        finally:
            await close_all([hostile])
            await platform.close()

    closed, error, stored = asyncio.run(scenario())
    # Then the server refuses it and closes the connection, and the stream never holds it
    assert closed
    assert "maximum payload violation" in error.lower()
    assert stored == 0


def test_given_a_key_that_never_acks_then_its_consumer_holds_at_most_the_pending_limit(
    start_bus_auth, nats_server, org, other_org
):
    # Given at most 3 unacknowledged events per key, and two organizations' reading keys
    hostile_key = make_api_key(other_org, "hostile", scopes=[Scope.EVENTS_READ])
    neighbour_key = make_api_key(org, "nb", scopes=[Scope.EVENTS_READ])
    start_bus_auth(HEALIX_BUS_MAX_ACK_PENDING=3)
    keys = {
        key: (prefix_of(key), consumer_name(row(key)), row(key).organization.slug)
        for key in (hostile_key, neighbour_key)
    }

    async def fetched_without_acking(key: str) -> int:
        prefix, durable, org_id = keys[key]
        partner = await connect(nats_server.client_url, key, prefix)
        try:
            pull = await partner.js.pull_subscribe(
                f"healix.{org_id}.*", durable=durable, stream=EVENTS
            )
            messages = []
            with contextlib.suppress(NatsTimeout):
                while len(messages) < 10:
                    messages += await pull.fetch(10, timeout=1)
            return len(messages)
        finally:
            await partner.nc.close()

    async def scenario() -> tuple[int, int]:
        # (each key's consumer is made at its first connect)
        for key, (prefix, _durable, _org_id) in keys.items():
            await (await connect(nats_server.client_url, key, prefix)).nc.close()
        platform = await nats.connect(nats_server.url)
        try:
            for org_id in ("other", "hrh"):
                for n in range(5):
                    body = json.dumps({"n": n}).encode()
                    await platform.jetstream().publish(f"healix.{org_id}.planUpdated", body)
        finally:
            await platform.close()
        # When each pulls everything and acks nothing
        return await fetched_without_acking(hostile_key), await fetched_without_acking(
            neighbour_key
        )

    hostile_got, neighbour_got = asyncio.run(scenario())
    # Then the server hands each at most 3 (and holds no more for them)
    assert (hostile_got, neighbour_got) == (3, 3)


def prefix_of(key: str) -> str:
    return inbox_prefix(row(key))
