"""Threat: a partner makes Healix post into another organization's inbox.

consume_bus answers an inbound message on the inbox its `Healix-Reply-To` header names, with
Healix's own connection, which may publish anywhere; the `_INBOX.*.*.>` export carries such
answers into the partners' account. A hostile partner naming another organization's inbox, or
an inbox of the platform's own account, must get nothing delivered there: the answer is
dropped and logged. (What NATS itself lets a partner aim at another inbox, and why that is
harmless, is in docs/bus-access.md, "Replies".)
"""

import asyncio
import json

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from bus.access import inbox_prefix
from bus.inbound import REPLY_HEADER, reply_refusal
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from integrations.models import InboundEvent
from tests.fixtures.bus import connect
from tests.fixtures.integrations import make_api_key
from tests.fixtures.waiting import PATIENCE, wait_until

SUBJECT = "aiEngineTimeSlot"
# Seconds to wait for an answer that must NOT come, after a later one did.
QUIET = 1.0


def inbox_of(key: str) -> str:
    return inbox_prefix(OrganizationAPIKey.objects.get_from_key(key))


async def hostile_asks_for_answers_on(
    url: str, key: str, key_inbox: str, victims_inbox: str
) -> dict:
    """The hostile partner publishes one message naming `victims_inbox`, then one naming its
    own inbox; returns the answer to the second, which comes after the first was settled."""
    hostile = await connect(url, key, key_inbox)
    try:
        own_inbox = hostile.nc.new_inbox()
        answers = await hostile.nc.subscribe(own_inbox)
        subject = f"healix.other.inbound.{SUBJECT}"
        for reply_to in (victims_inbox, own_inbox):
            body = json.dumps({"timeSlot": f"for {reply_to}"}).encode()
            await hostile.js.publish(subject, body, headers={REPLY_HEADER: reply_to})
        return json.loads((await answers.next_msg(timeout=PATIENCE)).data)
    finally:
        await hostile.nc.close()


async def received(subscription, timeout: float = QUIET) -> list[bytes]:
    try:
        return [(await subscription.next_msg(timeout=timeout)).data]
    except NatsTimeout:
        return []


@pytest.mark.django_db(transaction=True)
def test_given_a_hostile_partner_naming_another_orgs_inbox_then_healix_never_answers_there(
    start_bus_auth, start_consume_bus, nats_server, org, other_org
):
    # Given hrh's partner listening on one of its inbox subjects (which the hostile partner of
    # the other organization learned), and the other organization's writing key
    victim_key = make_api_key(org, "victim")
    hostile_key = make_api_key(other_org, "hostile", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    consume_bus = start_consume_bus()
    victim_prefix, hostile_prefix = inbox_of(victim_key), inbox_of(hostile_key)

    async def scenario() -> tuple[dict, list[bytes]]:
        victim = await connect(nats_server.client_url, victim_key, victim_prefix)
        try:
            victims_inbox = victim.nc.new_inbox()
            listening = await victim.nc.subscribe(victims_inbox)
            await victim.nc.flush()
            # When the hostile partner publishes with Healix-Reply-To set to that inbox
            own_answer = await hostile_asks_for_answers_on(
                nats_server.client_url, hostile_key, hostile_prefix, victims_inbox
            )
            return own_answer, await received(listening)
        finally:
            await victim.nc.close()

    own_answer, victim_got = asyncio.run(scenario())
    # Then the hostile partner's messages were processed (its own inbox got its answer) ...
    assert own_answer["id"]
    assert InboundEvent.objects.filter(organization=other_org).count() == 2
    # ... but nothing reached hrh's inbox, and the refusal is logged
    assert victim_got == []
    wait_until(lambda: "Not answering" in consume_bus.log.read_text())


@pytest.mark.django_db(transaction=True)
def test_given_a_hostile_partner_naming_a_platform_inbox_then_healix_never_answers_there(
    start_bus_auth, start_consume_bus, nats_server, other_org
):
    # Given an inbox of the platform's own account (where Healix's connection lives), and the
    # other organization's writing key
    hostile_key = make_api_key(other_org, "hostile", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    start_consume_bus()
    hostile_prefix = inbox_of(hostile_key)

    async def scenario() -> tuple[dict, list[bytes]]:
        platform = await nats.connect(nats_server.url)
        try:
            platform_inbox = platform.new_inbox()
            listening = await platform.subscribe(platform_inbox)
            await platform.flush()
            # When the hostile partner asks for the answer there
            own_answer = await hostile_asks_for_answers_on(
                nats_server.client_url, hostile_key, hostile_prefix, platform_inbox
            )
            return own_answer, await received(listening)
        finally:
            await platform.close()

    own_answer, platform_got = asyncio.run(scenario())
    # Then it got its own answer, and nothing was published into the platform's inbox
    assert own_answer["id"]
    assert platform_got == []


@pytest.mark.parametrize(
    ("reply_to", "answered"),
    [
        ("_INBOX.other.AbCd1234.Xy7dZ9aBcD", True),  # a key of the publishing organization
        ("_INBOX.other.AbCd1234.Xy7dZ9aBcD.17", True),  # nats-py's request form
        ("_INBOX.hrh.AbCd1234.Xy7dZ9aBcD", False),  # another organization's key
        ("_INBOX.otherx.AbCd1234.Xy7dZ9aBcD", False),  # a slug that only starts alike
        ("_INBOX.Xy7dZ9aBcD", False),  # the platform's own inboxes
        ("_INBOX.Xy7dZ9aBcD.17", False),
        ("_INBOX.other.AbCd1234", False),  # the prefix alone: no inbox of a connection
        ("_INBOX.other.AbCd1234.>", False),  # wildcards are no inbox
        ("_INBOX.other.AbCd1234.*", False),
        ("healix.other.inbound.aiEngineTimeSlot", False),  # a subject of the bus
        ("_INBOX.other.AbCd1234.a b", False),
    ],
)
def test_given_a_reply_to_then_only_an_inbox_of_the_publishing_org_is_answered(reply_to, answered):
    # Given a message published for the other organization, When it names `reply_to`
    refusal = reply_refusal(f"healix.other.inbound.{SUBJECT}", reply_to)
    # Then it is answered only there
    assert (refusal is None) == answered, refusal
