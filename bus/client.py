"""Connecting to the bus: NATS_URL (and the other *_NATS_URL settings) name one server or, for
a cluster, several separated by commas (docs/deploy.md); nats-py takes them as a list and fails
over between them, and learns the rest of the cluster from the server it reaches."""

from __future__ import annotations

from typing import Any

import nats
from nats.aio.client import Client

__all__ = ["connect", "servers"]


def servers(url: str) -> list[str]:
    """The servers a NATS URL setting names: `nats://a:4222,nats://b:4222` gives two."""
    return [part.strip() for part in url.split(",") if part.strip()]


async def connect(url: str, **options: Any) -> Client:
    """nats.connect to every server `url` names."""
    return await nats.connect(servers=servers(url), **options)
