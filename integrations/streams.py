"""The JetStream stream partners publish inbound messages to, and its durable consumer.

`manage.py setup_streams` creates both next to HEALIX_EVENTS; consume_bus also ensures them at
start-up, so they exist even before that command ran (both are idempotent).
"""

import re

from django.conf import settings
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

__all__ = [
    "INBOUND_SUBJECTS",
    "ensure_inbound_consumer",
    "ensure_inbound_stream",
    "inbound_consumer_config",
    "inbound_stream_config",
    "inbound_subject",
    "parse_inbound_subject",
]

# healix.<orgId>.inbound.<subject>: four tokens or more, so HEALIX_EVENTS (healix.*.*, three
# tokens) never overlaps.
INBOUND_SUBJECTS = "healix.*.inbound.>"
# Seconds the server waits for an ack before redelivering: a batch commits in well under a
# second, so this only trips when a consumer died holding messages.
ACK_WAIT_SECONDS = 30.0
# Unacknowledged messages the durable consumer may have out at once, over all consume_bus
# processes: a few batches each.
MAX_ACK_PENDING = 20_000


def inbound_subject(org_id: str, subject: str) -> str:
    return f"healix.{org_id}.inbound.{subject}"


# An organization's slug (healix/models.py): what a subject's orgId token must look like.
ORG_ID_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\Z")


def parse_inbound_subject(nats_subject: str) -> tuple[str, str] | None:
    """(orgId, integration subject) of healix.<orgId>.inbound.<subject...>, else None.

    The orgId must look like one (healix.models.org_id_validator's shape): anything else, a NUL
    byte that PostgreSQL text cannot hold included, is unroutable, not a database error.
    """
    tokens = nats_subject.split(".")
    if len(tokens) < 4 or tokens[0] != "healix" or tokens[2] != "inbound":
        return None
    if not ORG_ID_TOKEN.match(tokens[1]) or "\x00" in nats_subject:
        return None
    return tokens[1], ".".join(tokens[3:])


def inbound_stream_config() -> StreamConfig:
    return StreamConfig(
        name=settings.HEALIX_INBOUND_STREAM,
        description="Inbound integration events from partners (first message only: ingest()).",
        subjects=[INBOUND_SUBJECTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=float(settings.HEALIX_INBOUND_MAX_AGE_SECONDS),
        num_replicas=settings.HEALIX_INBOUND_REPLICAS,
    )


def inbound_consumer_config(ack_wait: float = ACK_WAIT_SECONDS) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.HEALIX_INBOUND_CONSUMER,
        description="consume_bus: inbound -> integrations.ingest()",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=INBOUND_SUBJECTS,
        ack_wait=ack_wait,
        max_ack_pending=MAX_ACK_PENDING,
        # Unlimited: only transient database errors nak; permanent failures are terminated.
        max_deliver=-1,
    )


async def ensure_inbound_stream(js: JetStreamContext) -> bool:
    """Create the stream, or update it to the settings; True if it was created."""
    config = inbound_stream_config()
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        return True
    await js.update_stream(config)
    return False


async def ensure_inbound_consumer(js: JetStreamContext, ack_wait: float = ACK_WAIT_SECONDS):
    """Create the durable consumer if missing (an existing one is left as it is)."""
    config = inbound_consumer_config(ack_wait)
    try:
        return await js.consumer_info(settings.HEALIX_INBOUND_STREAM, config.durable_name)
    except NotFoundError:
        return await js.add_consumer(settings.HEALIX_INBOUND_STREAM, config)
