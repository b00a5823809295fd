"""Threat: a partner makes another organization's inbound message vanish with a header.

JetStream drops a message whose `Nats-Msg-Id` it saw in the last two minutes in the same
stream, and answers the publisher `duplicate: true`. When every organization shared one
stream, a partner of hrh publishing `Nats-Msg-Id: order-1` made the other organization's next
`order-1` (different data, its own subject) vanish: acked, yet no inbound event and no
rejection. Each organization now has its own stream (bus/topology.py), so an id can
only ever drop a copy its own organization already sent.
"""

import pytest
from nats.js.api import PubAck

from bus.topology import inbound_subject
from healix.api.scopes import Scope
from integrations.models import InboundEvent
from tests.fixtures.bus import publish_as as publish_as_partner
from tests.fixtures.integrations import make_api_key
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "aiEngineTimeSlot"
ID = {"Nats-Msg-Id": "order-1"}


def publish_as(url: str, key: str, org_id: str, body: dict) -> PubAck:
    [ack] = publish_as_partner(url, key, inbound_subject(org_id, SUBJECT), [body], headers=ID)
    return ack


def test_one_organizations_message_id_never_drops_anothers_message(
    start_bus_auth, start_consume_bus, nats_server, plan, other_plan
):
    # Given a partner of each organization, writing inbound events over the bus
    ours = make_api_key(plan.organization, "ours", scopes=[Scope.INBOUND_WRITE])
    hostile = make_api_key(other_plan.organization, "hostile", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    start_consume_bus()
    url = nats_server.client_url
    # When the other organization's partner publishes with Nats-Msg-Id order-1 first
    theirs = publish_as(url, hostile, "other", {"planId": str(other_plan.pk), "timeSlot": "x"})
    # And hrh's partner then publishes different data with the same id
    mine = publish_as(url, ours, "hrh", {"planId": str(plan.pk), "timeSlot": "9:30"})
    # Then hrh's message is stored, not acked as a duplicate, and becomes hrh's event
    assert (theirs.duplicate, mine.duplicate) == (None, None)
    wait_until(lambda: InboundEvent.objects.filter(organization=plan.organization).exists())
    event = InboundEvent.objects.get(organization=plan.organization)
    assert (event.status, event.payload["timeSlot"]) == ("accepted", "9:30")
    # And the other organization's own event is untouched
    wait_until(lambda: InboundEvent.objects.filter(organization=other_plan.organization).exists())
    assert InboundEvent.objects.count() == 2


def test_an_id_still_spares_its_own_organization_a_second_copy(
    start_bus_auth, start_consume_bus, nats_server, plan
):
    # Given hrh's partner, which sets a message id so that a retried publish is stored once
    key = make_api_key(plan.organization, "ours", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    start_consume_bus()
    body = {"planId": str(plan.pk), "timeSlot": "9:30"}
    # When it publishes the same message twice (a retry after a lost ack)
    first = publish_as(nats_server.client_url, key, "hrh", body)
    again = publish_as(nats_server.client_url, key, "hrh", body)
    # Then the stream keeps the first only, as the partner asked, and it is ingested once
    assert (first.duplicate, again.duplicate) == (None, True)
    wait_until(lambda: InboundEvent.objects.filter(status="accepted").count() == 1)
    assert InboundEvent.objects.get().duplicate_count == 0
