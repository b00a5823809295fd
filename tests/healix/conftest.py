"""Fixtures of the bus access tests: `manage.py bus_auth` and `relay_events` as real
processes on the test database and the session's nats-server (auth callout enabled)."""

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator

import nats
import pytest

from events.streams import ensure_events_stream
from tests.fixtures.integrations import subprocess_database_url
from tests.fixtures.processes import start_process, stop_process
from tests.fixtures.waiting import wait_until

EVENTS = "HEALIX_EVENTS"


async def _fresh_events_stream(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(EVENTS)  # and with it every partner consumer of earlier tests
        await ensure_events_stream(js)
    finally:
        await nc.close()


@pytest.fixture
def process_env(nats_server, settings) -> dict[str, str]:
    """The environment of the platform's processes, pointed at the test database and server."""
    settings.NATS_URL = nats_server.url
    settings.HEALIX_BUS_PUBLIC_URL = nats_server.client_url
    return {
        **os.environ,
        **nats_server.environment(),
        "DATABASE_URL": subprocess_database_url(),
        "DEBUG": "true",
        "DATABASE_CONN_MAX_AGE": "0",
    }


@pytest.fixture
def start_bus_auth(
    transactional_db, nats_server, inbound_stream, process_env, tmp_path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """start_bus_auth(check_seconds=10): `manage.py bus_auth` on a fresh events stream."""
    asyncio.run(_fresh_events_stream(nats_server.url))
    started: list[subprocess.Popen] = []

    def start(check_seconds: float = 10) -> subprocess.Popen:
        env = {**process_env, "HEALIX_BUS_REVOCATION_CHECK_SECONDS": str(check_seconds)}
        process = start_process(["bus_auth"], env, tmp_path / "bus_auth.log")
        started.append(process)
        wait_until(lambda: "bus_auth started" in process.log.read_text() or process.poll())
        assert process.poll() is None, process.log.read_text()
        return process

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def start_relay(transactional_db, process_env, tmp_path) -> Iterator[Callable[[], None]]:
    started: list[subprocess.Popen] = []

    def start() -> None:
        started.append(start_process(["relay_events"], process_env, tmp_path / "relay.log"))

    yield start
    for process in started:
        stop_process(process)
