"""Outgoing system events: `emit()` writes one to the outbox inside the caller's transaction;
the relay (events/relay.py) publishes it to NATS JetStream after the commit."""

from typing import Any

from events.types import EventType

__all__ = ["EventType", "emit"]


def emit(event_type: EventType, **kwargs: Any) -> Any:
    """See events.outbox.emit (imported late: this package loads before the app registry)."""
    from events.outbox import emit as emit_to_outbox

    return emit_to_outbox(event_type, **kwargs)
