"""`manage.py setup_streams` creates the HEALIX_EVENTS stream, and updates it idempotently."""

import asyncio
from io import StringIO

import nats
import pytest
from django.core.management import call_command
from nats.js.api import StorageType

from dev.servers import start_nats


async def _stream_config(url: str, name: str):
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(name)).config
    finally:
        await nc.close()


def setup_streams() -> str:
    out = StringIO()
    call_command("setup_streams", stdout=out)
    return out.getvalue()


@pytest.fixture
def fresh_nats_server(tmp_path):
    """A server of its own: the session's server keeps the stream other tests rely on."""
    with start_nats(tmp_path / "nats") as server:
        yield server


def test_setup_streams_creates_then_updates_the_stream(fresh_nats_server, settings, db):
    # Given a server without the stream
    nats_server = fresh_nats_server
    settings.NATS_URL = nats_server.url
    name = settings.HEALIX_EVENTS_STREAM
    # When the command runs twice
    assert "created" in setup_streams()
    assert "up to date" in setup_streams()
    # Then the stream holds healix.*.* on file with the settings' limits
    config = asyncio.run(_stream_config(nats_server.url, name))
    assert config.subjects == ["healix.*.*"]
    assert config.storage == StorageType.FILE
    assert config.max_age == settings.HEALIX_EVENTS_MAX_AGE_SECONDS
    assert config.duplicate_window == settings.HEALIX_EVENTS_DUPLICATE_WINDOW_SECONDS
    # When a setting changes, the next run updates the existing stream
    settings.HEALIX_EVENTS_DUPLICATE_WINDOW_SECONDS = 120
    setup_streams()
    config = asyncio.run(_stream_config(nats_server.url, name))
    assert config.duplicate_window == 120
