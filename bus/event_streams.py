"""The JetStream stream of outgoing events, created or updated to match the settings."""

from dataclasses import dataclass

from django.conf import settings
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events.types import SUBJECT_PREFIX

__all__ = ["EVENT_SUBJECTS", "StreamSetup", "ensure_events_stream", "events_stream_config"]

# Exactly three tokens, healix.<orgId>.<type>: the inbound stream's healix.<orgId>.inbound.>
# subjects have four or more, so the two streams never overlap.
EVENT_SUBJECTS = f"{SUBJECT_PREFIX}.*.*"


@dataclass(frozen=True)
class StreamSetup:
    name: str
    created: bool
    config: StreamConfig


def events_stream_config() -> StreamConfig:
    return StreamConfig(
        name=settings.HEALIX_EVENTS_STREAM,
        description="Healix system events (outbox relay); one message per eventId.",
        subjects=[EVENT_SUBJECTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=float(settings.HEALIX_EVENTS_MAX_AGE_SECONDS),
        duplicate_window=float(settings.HEALIX_EVENTS_DUPLICATE_WINDOW_SECONDS),
        num_replicas=settings.HEALIX_EVENTS_REPLICAS,
    )


async def ensure_events_stream(js: JetStreamContext) -> StreamSetup:
    """Create the stream, or update it to the settings if it exists (idempotent)."""
    config = events_stream_config()
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        info = await js.add_stream(config)
        return StreamSetup(config.name, True, info.config)
    info = await js.update_stream(config)
    return StreamSetup(config.name, False, info.config)
