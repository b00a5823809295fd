"""Threat: one organization's backlog keeps another's messages waiting (a noisy neighbour).

A partner of one organization floods the bus with junk; consume_bus served every organization
from one queue, oldest first, so another organization's next message waited behind the whole
flood (0.04 s became 1.4 s for 5,000 messages, and grows with the flood). Now each
organization's stream is fetched on its own and batches are served in turn, on worker threads
of their own (bus/fair_consumer.py): the other organization's message waits for at
most the batch in hand, never the backlog. bench/isolation.py measures the delay.
"""

import pytest

from bus.topology import inbound_subject
from healix.api.scopes import Scope
from integrations.models import InboundEvent
from tests.fixtures.bus import publish_as
from tests.fixtures.integrations import make_api_key
from tests.fixtures.waiting import PATIENCE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "aiEngineTimeSlot"
FLOOD = 3_000
BATCH = 100


def test_one_organizations_backlog_never_queues_ahead_of_anothers_message(
    start_bus_auth, start_consume_bus, nats_server, plan, other_plan
):
    # Given consume_bus started once (it creates the streams), then stopped
    flooder = make_api_key(other_plan.organization, "flooder", scopes=[Scope.INBOUND_WRITE])
    ours = make_api_key(plan.organization, "ours", scopes=[Scope.INBOUND_WRITE])
    start_bus_auth()
    first = start_consume_bus()
    first.terminate()
    first.wait(PATIENCE)  # so that none of the flood below is taken before the restart
    # And the other organization's partner floods its subject, then hrh's partner publishes one
    url = nats_server.client_url
    junk = [{"planId": str(other_plan.pk), "timeSlot": f"junk {n}"} for n in range(FLOOD)]
    publish_as(url, flooder, inbound_subject("other", SUBJECT), junk)
    mine = {"planId": str(plan.pk), "timeSlot": "9:30"}
    publish_as(url, ours, inbound_subject("hrh", SUBJECT), [mine])
    # When consume_bus runs again
    start_consume_bus("--batch", str(BATCH))
    wait_until(lambda: InboundEvent.objects.filter(organization=plan.organization).exists())
    # Then hrh's message was ingested before the flood was through: at most a batch or two of
    # it came first, not all of it
    received = InboundEvent.objects.get(organization=plan.organization).received_at
    flood = InboundEvent.objects.filter(organization=other_plan.organization)
    assert flood.filter(received_at__lt=received).count() <= 2 * BATCH
    # And the flood is ingested whole all the same
    wait_until(lambda: flood.count() == FLOOD)
