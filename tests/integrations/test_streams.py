"""`manage.py setup_streams` also creates HEALIX_INBOUND and its durable consumer."""

import asyncio
from io import StringIO

import nats
from django.core.management import call_command

from healix.devservers import start_nats
from integrations.streams import parse_inbound_subject


async def _inbound(url: str, stream: str, consumer: str):
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return (await js.stream_info(stream)).config, await js.consumer_info(stream, consumer)
    finally:
        await nc.close()


def test_setup_streams_creates_the_inbound_stream_and_consumer(tmp_path, settings):
    # Given a server of its own, without streams
    with start_nats(tmp_path / "nats") as server:
        settings.NATS_URL = server.url
        # When the command runs twice
        first, second = StringIO(), StringIO()
        call_command("setup_streams", stdout=first)
        call_command("setup_streams", stdout=second)
        # Then the inbound stream was created once and holds healix.*.inbound.>
        assert "Stream HEALIX_INBOUND created" in first.getvalue()
        assert "Stream HEALIX_INBOUND up to date" in second.getvalue()
        config, consumer = asyncio.run(
            _inbound(server.url, settings.HEALIX_INBOUND_STREAM, settings.HEALIX_INBOUND_CONSUMER)
        )
        assert config.subjects == ["healix.*.inbound.>"]
        assert consumer.config.ack_policy == "explicit"


def test_inbound_subjects_name_the_organization_and_subject():
    assert parse_inbound_subject("healix.hrh.inbound.aiEngineTimeSlot") == (
        "hrh",
        "aiEngineTimeSlot",
    )
    assert parse_inbound_subject("healix.hrh.inbound.a.b") == ("hrh", "a.b")
    assert parse_inbound_subject("healix.hrh.planCreated") is None
    assert parse_inbound_subject("other.hrh.inbound.x") is None
