"""What a partner needs to connect to the bus with its API key: POST /api/v1/bus-credentials/
and the API key's admin page show the same (docs/bus-access.md)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from bus.access import (
    JS_API_PREFIX,
    bus_permissions,
    consumer_name,
    events_subject,
    inbox_prefix,
)
from bus.client import servers
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey

__all__ = ["FETCH_SECONDS", "bus_credentials", "public_bus_url"]

# The environment variable the example reads the key from: a key never belongs in code.
KEY_VARIABLE = "HEALIX_API_KEY"
# How long the example's fetch waits for events: a long poll, not a busy loop.
FETCH_SECONDS = 5


def public_bus_url() -> str:
    """HEALIX_BUS_PUBLIC_URL, else the servers of NATS_URL without the platform's own
    credentials (comma-separated, for a cluster)."""
    if settings.HEALIX_BUS_PUBLIC_URL:
        return settings.HEALIX_BUS_PUBLIC_URL
    without_credentials = []
    for server in servers(settings.NATS_URL):
        parts = urlsplit(server)
        host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        without_credentials.append(urlunsplit(parts._replace(netloc=host)))
    return ",".join(without_credentials)


def bus_credentials(api_key: OrganizationAPIKey) -> dict | None:
    """The connection details of `api_key`, or None when its scopes give it nothing on the bus
    (neither inbound:write nor events:read)."""
    permissions = bus_permissions(api_key)
    if permissions is None:
        return None
    org = api_key.organization.slug
    can_read = Scope.EVENTS_READ in api_key.scopes
    consumer = (
        {
            "stream": settings.HEALIX_EVENTS_STREAM,
            "name": consumer_name(api_key),
            "filterSubject": events_subject(api_key),
        }
        if can_read
        else None
    )
    return {
        "url": public_bus_url(),
        "authentication": {
            "method": "token",
            "token": "the API key itself (nats-py: token=...)",
        },
        "organization": org,
        "inboxPrefix": inbox_prefix(api_key),
        "jetStreamApiPrefix": JS_API_PREFIX,
        "publish": permissions.publish,
        "subscribe": permissions.subscribe,
        "consumer": consumer,
        "revocationSeconds": settings.HEALIX_BUS_REVOCATION_CHECK_SECONDS,
        "limits": {
            "connections": settings.HEALIX_BUS_LIMITS.connections_per_key,
            "subscriptionsPerConnection": settings.HEALIX_BUS_LIMITS.subscriptions,
            "payloadBytes": settings.HEALIX_BUS_LIMITS.payload_bytes,
            "unackedEvents": settings.HEALIX_BUS_LIMITS.ack_pending,
        },
        "example": python_example(api_key, consumer),
    }


def _quoted(text: str) -> str:
    """A string literal as ruff and black write it: double quotes."""
    return json.dumps(text)


def python_example(api_key: OrganizationAPIKey, consumer: dict | None) -> str:
    """A ready-to-run nats-py program for this key (the key itself comes from $HEALIX_API_KEY)."""
    org = api_key.organization.slug
    lines = [
        f'"""Healix bus client for {org}: pip install nats-py, then',
        f'{KEY_VARIABLE}=<your API key> python this_file.py"""',
        "",
        "import asyncio",
        "import json",
        "import os",
        "",
        "import nats",
        "",
        "",
        "async def main():",
        "    nc = await nats.connect(",
        f"        servers=[{', '.join(_quoted(url) for url in servers(public_bus_url()))}],",
        f"        token=os.environ[{_quoted(KEY_VARIABLE)}],",
        f"        inbox_prefix={_quoted(inbox_prefix(api_key))},"
        "  # replies: only this key may read them",
        "        max_reconnect_attempts=-1,",
        "    )",
        f"    js = nc.jetstream(prefix={_quoted(JS_API_PREFIX)})",
    ]
    if Scope.INBOUND_WRITE in api_key.scopes:
        lines += [
            "    # Send an inbound event to one of your integration's subjects (docs/inbound.md):",
            f'    # await js.publish("healix.{org}.inbound.<subject>", json.dumps(body).encode())',
        ]
    if consumer is not None:
        lines += [
            "    # Your organization's events, at least once: ack each once handled.",
            "    events = await js.pull_subscribe(",
            f"        {_quoted(consumer['filterSubject'])},",
            f"        durable={_quoted(consumer['name'])},",
            f"        stream={_quoted(consumer['stream'])},",
            "    )",
            '    print("Waiting for events", flush=True)',
            "    while True:",
            "        # An idle fetch times out with nats.errors.TimeoutError, or at times with",
            "        # a plain asyncio.TimeoutError (nats-py 2.16): the latter catches both.",
            "        try:",
            f"            messages = await events.fetch(100, timeout={FETCH_SECONDS})",
            "        except asyncio.TimeoutError:",
            "            continue",
            "        for message in messages:",
            "            event = json.loads(message.data)",
            '            print(event["messageType"], event["eventId"], flush=True)',
            "            await message.ack()",
        ]
    else:
        lines.append("    await nc.close()")
    lines += ["", "", "asyncio.run(main())", ""]
    return "\n".join(lines)
