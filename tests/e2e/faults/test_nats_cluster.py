"""The issue's stream on a three-node NATS cluster, every stream at three replicas (issue 19,
item 1): the node leading the organization's inbound stream is SIGKILLed a third of the way
through and started again a few seconds later. The processes that were connected to it fail
over to the other nodes by themselves, the streams elect new leaders, and the restarted node
catches up. Nothing is lost, nothing is processed twice (run_stream_with_fault checks every
promise, as for the other faults)."""

import asyncio
import time

import pytest

from bus import client as bus_client
from bus.topology import inbound_stream_name
from dev.servers import EVENTS_STREAM
from tests.e2e.faults.conftest import DISTINCT, SETTLE_TIMEOUT, run_stream_with_fault
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

NODES = 3
# Seconds the killed node stays down: the stream goes on meanwhile (it lasts about ten).
DOWN_SECONDS = 4.0


@pytest.fixture
def stack_settings() -> dict:
    return {"nats_nodes": NODES}


def stream_cluster(url: str, stream: str):
    """The stream's cluster info as JetStream reports it: leader and replicas."""

    async def ask():
        nc = await bus_client.connect(url)
        try:
            return (await nc.jetstream().stream_info(stream)).cluster
        finally:
            await nc.close()

    return asyncio.run(ask())


def caught_up(url: str, stream: str) -> bool:
    cluster = stream_cluster(url, stream)
    replicas = cluster.replicas or []
    return (
        cluster.leader is not None
        and len(replicas) == NODES - 1
        and all(replica.current and not replica.offline for replica in replicas)
    )


def test_stream_leader_killed_mid_stream(stack):
    inbound = inbound_stream_name(stack.org)
    killed: list[str] = []

    def kill_leader_and_restart_later(stack) -> None:
        leader = stream_cluster(stack.nats.url, inbound).leader
        node = stack.nats.node_named(leader)
        stack.nats.kill(node)
        killed.append(leader)
        time.sleep(DOWN_SECONDS)
        stack.nats.start_node(node)

    # given every stream at three replicas
    assert len(stream_cluster(stack.nats.url, EVENTS_STREAM).replicas) == NODES - 1
    # when the inbound stream's leader is killed after a third of the stream was accepted
    at_strike, _publisher = run_stream_with_fault(
        stack, lambda tally: tally.accepted >= DISTINCT // 3, kill_leader_and_restart_later
    )
    # then (every promise checked) the kill was mid-stream,
    assert at_strike.accepted < DISTINCT and killed
    # and the restarted node caught up with both streams
    for stream in (inbound, EVENTS_STREAM):
        wait_until(lambda: caught_up(stack.nats.url, stream), SETTLE_TIMEOUT)  # noqa: B023
