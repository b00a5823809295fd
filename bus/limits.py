"""The per-key limits on the bus (docs/bus-access.md, "Limits"), read from HEALIX_BUS_MAX_* by
the settings (`settings.HEALIX_BUS_LIMITS`) and by the embedded nats-server's configuration
(bus/nats_config.py) alike: what bus_auth tells partners and what the server enforces are
the same numbers."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["BusLimits", "bus_limits"]


@dataclass(frozen=True)
class BusLimits:
    # Connections one key may hold at once: bus_auth refuses more, its sweep closes any excess.
    # A partner runs a few processes of one connection each; 10 leaves room for a rolling
    # restart, during which old and new processes overlap.
    connections_per_key: int = 10
    # Subscriptions per partner connection (the partners' account `limits`; nats-server refuses
    # more). A client needs a handful (its request inbox, a pull consumer's inbox, a live
    # subscription): 100 is generous, and bounds what one connection adds to the routing of
    # every message.
    subscriptions: int = 100
    # Largest message a partner may publish (the partners' account `max_payload`): the largest
    # inbound payload Healix accepts (HEALIX_INBOUND_MAX_BYTES, 256 KiB) plus 8 KiB of headers.
    # A bigger one could only be stored as rejected, filling the stream and the database.
    payload_bytes: int = 256 * 1024 + 8 * 1024
    # Events a key's consumer hands out before they are acked (JetStream's max_ack_pending;
    # 1000 is its own default for pull consumers): bounds what the server holds for a key
    # that pulls and never acks.
    ack_pending: int = 1000


# The environment variable of each limit.
VARIABLES = {
    "connections_per_key": "HEALIX_BUS_MAX_CONNECTIONS_PER_KEY",
    "subscriptions": "HEALIX_BUS_MAX_SUBSCRIPTIONS",
    "payload_bytes": "HEALIX_BUS_MAX_PAYLOAD_BYTES",
    "ack_pending": "HEALIX_BUS_MAX_ACK_PENDING",
}


def bus_limits(environ: Mapping[str, str] = os.environ) -> BusLimits:
    """The limits `environ` sets, the defaults for the others."""
    given = {field.name: environ.get(VARIABLES[field.name]) for field in fields(BusLimits)}
    return BusLimits(**{name: int(value) for name, value in given.items() if value})
