"""`manage.py setup_streams` also creates every organization's inbound stream and its durable
consumer, and retires the stream all organizations shared before; consume_bus ingests what
that one still holds, then deletes it."""

import asyncio
import json
from io import StringIO

import nats
import pytest
from django.conf import settings
from django.core.management import call_command
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from bus.topology import (
    inbound_consumer_config,
    inbound_stream_name,
    inbound_subject,
    parse_inbound_subject,
)
from dev.servers import start_nats
from integrations.models import InboundEvent, UnroutableMessage
from tests.fixtures.waiting import wait_until

SUBJECT = "aiEngineTimeSlot"


async def _inbound(url: str, stream: str, consumer: str):
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return (await js.stream_info(stream)).config, await js.consumer_info(stream, consumer)
    finally:
        await nc.close()


async def _shared_stream_with(url: str, messages: list[tuple[str, bytes]]) -> None:
    """The shared stream as Healix created it before, holding `messages`."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(settings.HEALIX_INBOUND_STREAM):
                await js.delete_stream(info.config.name)
        shared = settings.HEALIX_INBOUND_STREAM
        await js.add_stream(StreamConfig(name=shared, subjects=["healix.*.inbound.>"]))
        consumer = inbound_consumer_config()
        consumer.filter_subject = "healix.*.inbound.>"
        await js.add_consumer(shared, consumer)
        for subject, data in messages:
            await js.publish(subject, data)
    finally:
        await nc.close()


async def _exists(url: str, stream: str) -> bool:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().stream_info(stream)
        return True
    except NotFoundError:
        return False
    finally:
        await nc.close()


def test_setup_streams_creates_each_organizations_stream_and_consumer(tmp_path, settings, org):
    # Given a server of its own, without streams, and organization hrh
    with start_nats(tmp_path / "nats") as server:
        settings.NATS_URL = server.url
        # When the command runs twice
        first, second = StringIO(), StringIO()
        call_command("setup_streams", stdout=first)
        call_command("setup_streams", stdout=second)
        # Then hrh's stream was created once and holds hrh's inbound subjects only
        assert "Stream HEALIX_INBOUND_hrh created" in first.getvalue()
        assert "Stream HEALIX_INBOUND_hrh up to date" in second.getvalue()
        config, consumer = asyncio.run(
            _inbound(server.url, inbound_stream_name("hrh"), settings.HEALIX_INBOUND_CONSUMER)
        )
        assert config.subjects == ["healix.hrh.inbound.>"]
        assert consumer.config.ack_policy == "explicit"


@pytest.mark.django_db(transaction=True)
def test_the_shared_stream_is_drained_into_ingest_then_deleted(
    start_consume_bus, nats_server, plan, publish
):
    # Given the stream every organization shared, still holding messages: one of hrh, one of
    # an organization that does not exist, one whose orgId token holds a NUL byte
    body = json.dumps({"planId": str(plan.pk), "timeSlot": "before the upgrade"}).encode()
    held = [
        (inbound_subject("hrh", SUBJECT), body),
        (inbound_subject("nobody", SUBJECT), b'{"timeSlot": "x"}'),
        ("healix.h\x00rh.inbound.aiEngineTimeSlot", b'{"timeSlot": "x"}'),
    ]
    asyncio.run(_shared_stream_with(nats_server.url, held))
    # When consume_bus starts
    start_consume_bus()
    # Then hrh's message is ingested, the others kept as unroutable, and the stream deleted
    wait_until(lambda: InboundEvent.objects.filter(status="accepted").count() == 1)
    wait_until(lambda: UnroutableMessage.objects.count() == 2)
    wait_until(lambda: not asyncio.run(_exists(nats_server.url, settings.HEALIX_INBOUND_STREAM)))
    # And hrh's new messages go to its own stream, and are ingested
    publish("hrh", SUBJECT, {"planId": str(plan.pk), "timeSlot": "after the upgrade"})
    wait_until(lambda: InboundEvent.objects.filter(status="accepted").count() == 2)


def test_inbound_subjects_name_the_organization_and_subject():
    assert parse_inbound_subject("healix.hrh.inbound.aiEngineTimeSlot") == (
        "hrh",
        "aiEngineTimeSlot",
    )
    assert parse_inbound_subject("healix.hrh.inbound.a.b") == ("hrh", "a.b")
    assert parse_inbound_subject("healix.hrh.planCreated") is None
    assert parse_inbound_subject("other.hrh.inbound.x") is None
