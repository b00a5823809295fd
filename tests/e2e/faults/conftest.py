"""The fault scenarios' fixtures: one PostgreSQL of their own for the session (built once with
the scenario organization), and a fresh Stack (tests/fixtures/stack.py) per test."""

import time
from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.partner import Publisher, payload_stream
from tests.fixtures.stack import OwnedPostgres, Stack
from tests.fixtures.tally import Tally
from tests.fixtures.waiting import wait_until

# The stream: 5,000 inbound events, one in ten a copy of an earlier one.
EVENTS = 5000
DUPLICATE_EVERY = 10
DUPLICATES = EVENTS // DUPLICATE_EVERY
DISTINCT = EVENTS - DUPLICATES
# Plans the distinct payloads name in turn: the first slot each plan is evaluated for fires
# the demo rule (one planUpdated event, one webhook); the later ones are evaluated and find it
# scheduled. An evaluation that fires costs a tenth of a second of a loaded worker: one per
# payload would make each scenario many minutes long.
PLANS = 500
# Messages per second the partner publishes: the stream lasts about ten seconds, so a fault
# struck after a third of it lands while messages still arrive.
RATE = 500.0
# Seconds a scenario may take to settle after its fault: generous for a loaded CI machine; a
# lost or stuck event never settles and fails here.
SETTLE_TIMEOUT = 600.0


@pytest.fixture(scope="session")
def owned_postgres() -> Iterator[tuple[OwnedPostgres, dict]]:
    postgres = OwnedPostgres()
    try:
        world = postgres.build_template(PLANS)
        yield postgres, world
    finally:
        postgres.close()


@pytest.fixture
def stack_settings() -> dict:
    """Settings of the stack's processes beyond STACK_SETTINGS; a test module overrides it."""
    return {}


@pytest.fixture
def stack(owned_postgres, stack_settings, tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own; start its processes with stack.start(...)."""
    postgres, world = owned_postgres
    built = Stack(postgres, world, tmp_path_factory.mktemp("stack"), **stack_settings)
    started = time.monotonic()
    try:
        yield built
    finally:
        built.close()
        print(f"\nscenario took {time.monotonic() - started:.0f}s")


def run_stream_with_fault(
    stack: Stack,
    ready: Callable[[Tally], bool],
    strike: Callable[[Stack], None],
    processes: tuple[str, ...] = ("worker", "beat", "relay", "bus"),
) -> tuple[Tally, Publisher]:
    """The issue's stream through `processes` (Stack.start's names); `strike` once `ready`
    holds for the tally. Returns the tally at the strike (for the test to show it was
    mid-stream) and the publisher (how many messages it had to send again)."""
    stack.start(*processes)
    publisher = stack.publisher(payload_stream(stack.world["plans"], EVENTS, DUPLICATE_EVERY), RATE)
    wait_until(lambda: ready(stack.tally()), SETTLE_TIMEOUT)
    at_strike = stack.tally()
    strike(stack)
    publisher.finish()
    tally = stack.wait_until_settled(DISTINCT, PLANS, SETTLE_TIMEOUT)
    stack.check_exactly_once(tally, DISTINCT, DUPLICATES, PLANS)
    return at_strike, publisher
