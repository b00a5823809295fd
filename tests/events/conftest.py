"""Helpers for the relay tests: the stream, a relay in a thread, a JetStream reader."""

import asyncio
import json
import threading
from collections.abc import Callable, Iterator

import nats
import pytest

from bus.topology import ensure_events_stream
from events.relay import Relay, RelayConfig
from tests.fixtures.waiting import PATIENCE


def run(coroutine):
    return asyncio.run(coroutine)


async def _reset_stream(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        setup = await ensure_events_stream(js)
        await js.purge_stream(setup.name)
    finally:
        await nc.close()


@pytest.fixture
def events_stream(nats_server, settings) -> str:
    """The HEALIX_EVENTS stream on the test server, empty; NATS_URL points at it."""
    settings.NATS_URL = nats_server.url
    run(_reset_stream(nats_server.url))
    return settings.HEALIX_EVENTS_STREAM


async def _read_stream(url: str, subject: str) -> list[tuple[dict, dict]]:
    """Every message a new subscriber of `subject` sees: (headers, envelope), in stream order."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
        seen = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return seen
            seen.append((dict(msg.headers or {}), json.loads(msg.data)))
    finally:
        await nc.close()


@pytest.fixture
def read_stream(nats_server) -> Callable[[str], list[tuple[dict, dict]]]:
    return lambda subject="healix.>": run(_read_stream(nats_server.url, subject))


def relay_config(**overrides) -> RelayConfig:
    return RelayConfig.from_settings(**overrides)


class RelayThread:
    """A relay running its loop in a thread of its own, as in `manage.py relay_events`."""

    def __init__(self, config: RelayConfig) -> None:
        self.relay = Relay(config)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self.relay.run(self._stop)

    def start(self) -> "RelayThread":
        self._thread.start()
        self._ready.wait(PATIENCE)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(PATIENCE)
        assert not self._thread.is_alive(), "the relay did not stop"


@pytest.fixture
def start_relay(transactional_db, events_stream) -> Iterator[Callable[..., RelayThread]]:
    """Start relays in threads; all stop before the database is flushed."""
    started: list[RelayThread] = []

    def start(**overrides) -> RelayThread:
        relay = RelayThread(relay_config(**overrides)).start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()
