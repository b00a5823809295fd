"""The embedded nats-server that tests and `make run` rely on."""

import asyncio

import nats
from nats.js.api import StreamConfig

from bus.nats_config import BUS_SECRETS_FILE
from dev.servers import NatsServer, redacted


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


def test_platform_user_needs_no_callout_and_its_secrets_stay_private(
    nats_server: NatsServer,
) -> None:
    # given the session's server, configured with accounts and the auth callout
    secrets_file = nats_server.data_dir / BUS_SECRETS_FILE
    # then its passwords and issuer seed are readable by their owner only, as is the config
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert nats_server.config_file.stat().st_mode & 0o777 == 0o600
    # and the platform's URL carries the service user's password, which prints starred out
    assert nats_server.secrets.service_password in nats_server.url
    assert nats_server.secrets.service_password not in redacted(nats_server.url)
    assert "***" in redacted(nats_server.url)
    # and the platform's user works without bus_auth running (it bypasses the callout)
    body = asyncio.run(
        _publish_and_read_back(nats_server.url, "DEVSERVERS_USER", "devservers.user", b"ok")
    )
    assert body == b"ok"
