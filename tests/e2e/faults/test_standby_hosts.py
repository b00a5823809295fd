"""Two hosts (issue 19, item 3): each runs the relay, consume_bus, a Celery worker and beat,
with its own var/ folder, against one PostgreSQL and a three-node NATS cluster. One relay and
one beat are active (each holds its advisory lock, healix/leader.py), the other host's stand
by. A third of the way through the issue's stream the active relay and the active beat are
SIGKILLed and not started again: the other host's take over, and nothing is lost or processed
twice (run_stream_with_fault checks every promise). docs/deploy.md, "Standby processes", says
what bounds the takeover; bench/takeover.py measures it."""

import pytest

from tests.e2e.faults.conftest import PLANS, run_stream_with_fault

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

HOSTS = ("a", "b")
PROCESSES = tuple(f"{kind}@{host}" for host in HOSTS for kind in ("worker", "beat", "relay", "bus"))
# What the relay and beat log once they hold their lock.
ACTIVE = ": active"


@pytest.fixture
def stack_settings() -> dict:
    return {"nats_nodes": 3}


def active(stack, kind: str) -> list[str]:
    """The names of the `kind` processes that became active (each host's, "relay@a")."""
    return [
        name
        for name, process in stack.processes.items()
        if name.startswith(f"{kind}@") and ACTIVE in process.log.read_text()
    ]


def test_active_relay_and_beat_killed_on_one_host(stack):
    killed: list[str] = []

    def kill_the_active_ones(stack) -> None:
        for kind in ("relay", "beat"):
            (name,) = active(stack, kind)  # one active, the other standing by
            stack.kill(name)
            killed.append(name)

    # when the active relay and beat die after a third of the events were published
    at_strike, _publisher = run_stream_with_fault(
        stack,
        lambda tally: tally.published >= PLANS // 3,
        kill_the_active_ones,
        processes=PROCESSES,
    )
    # then (every promise checked) it was mid-stream, and the other host's took over
    assert at_strike.published < PLANS
    for kind, was_active in zip(("relay", "beat"), killed, strict=True):
        (now_active,) = active(stack, kind)
        assert now_active.split("@")[1] != was_active.split("@")[1]
