"""Fixtures of the bus access tests (bus_auth and process_env: tests/fixtures/bus.py):
`manage.py relay_events` as a real process on the test database and the session's
nats-server."""

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.processes import start_process, stop_process


@pytest.fixture
def start_relay(transactional_db, process_env, tmp_path) -> Iterator[Callable[[], None]]:
    started: list[subprocess.Popen] = []

    def start() -> None:
        started.append(start_process(["relay_events"], process_env, tmp_path / "relay.log"))

    yield start
    for process in started:
        stop_process(process)
