"""The embedded nats-server that tests and `make run` rely on."""

import asyncio

import nats
from nats.js.api import StreamConfig

from healix.devservers import NatsServer


async def _publish_and_read_back(url: str, stream: str, subject: str, body: bytes) -> bytes:
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        jetstream = client.jetstream()
        await jetstream.add_stream(StreamConfig(name=stream, subjects=[subject]))
        ack = await jetstream.publish(subject, body)
        assert ack.stream == stream
        message = await jetstream.get_msg(stream, ack.seq)
        return message.data
    finally:
        await client.close()


async def _last_body(url: str, stream: str, subject: str) -> bytes:
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        message = await client.jetstream().get_last_msg(stream, subject)
        return message.data
    finally:
        await client.close()


def test_jetstream_accepts_and_acknowledges_a_publish(nats_server: NatsServer) -> None:
    # given the session's nats-server
    # when a client creates a stream and publishes to it
    body = asyncio.run(
        _publish_and_read_back(nats_server.url, "DEVSERVERS_ACK", "devservers.ack", b"hello")
    )
    # then JetStream acknowledged it and stored the message
    assert body == b"hello"


def test_stop_then_start_keeps_port_and_streams(nats_server: NatsServer) -> None:
    # given a stream holding one message
    url = nats_server.url
    asyncio.run(_publish_and_read_back(url, "DEVSERVERS_RESTART", "devservers.restart", b"kept"))
    # when the server is stopped and started again
    nats_server.stop()
    nats_server.start()
    # then it listens at the same URL and the stream still holds the message
    assert nats_server.url == url
    assert asyncio.run(_last_body(url, "DEVSERVERS_RESTART", "devservers.restart")) == b"kept"
