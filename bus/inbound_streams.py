"""The JetStream streams partners publish inbound messages to: one per organization, each with
its durable consumer.

One stream per organization, not one for all: JetStream drops a message whose `Nats-Msg-Id`
it saw in the last two minutes in the same stream, and partners set that header. In a stream
shared by every organization, one organization's id silently dropped another's message (acked
as a duplicate, stored nowhere); per organization, an id can only ever drop the publisher's
own organization's copy (docs/bus-access.md, "One stream per organization"). It also gives
consume_bus a queue per organization to serve in turn (bus/fair_consumer.py).

`manage.py setup_streams` creates them for every organization; consume_bus also does at
start-up and for organizations created later (every HEALIX_INBOUND_REFRESH_SECONDS). Both
first retire the stream all organizations shared before (HEALIX_INBOUND): it stops taking
new messages, and consume_bus drains what it holds, then deletes it.
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
    "ensure_inbound",
    "inbound_consumer_config",
    "inbound_stream_config",
    "inbound_stream_name",
    "inbound_subject",
    "organization_subjects",
    "parse_inbound_subject",
    "retire_shared_stream",
]

# healix.<orgId>.inbound.<subject>: four tokens or more, so HEALIX_EVENTS (healix.*.*, three
# tokens) never overlaps. Every organization's stream takes its own part of it.
INBOUND_SUBJECTS = "healix.*.inbound.>"
# Seconds the server waits for an ack before redelivering: a batch commits in well under a
# second, and one that waited long for a worker is marked in progress (fair_consumer.py), so
# this only trips when a consumer died holding messages.
ACK_WAIT_SECONDS = 30.0
# Unacknowledged messages one organization's consumer may have out at once, over all
# consume_bus processes: a few batches each.
MAX_ACK_PENDING = 5_000


def inbound_subject(org_id: str, subject: str) -> str:
    return f"healix.{org_id}.inbound.{subject}"


def organization_subjects(org_id: str) -> str:
    return f"healix.{org_id}.inbound.>"


def inbound_stream_name(org_id: str) -> str:
    # A slug is [a-z0-9-] (healix/models.py): always a valid stream name, and "_" keeps it
    # apart from the prefix.
    return f"{settings.HEALIX_INBOUND_STREAM}_{org_id}"


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


def inbound_stream_config(org_id: str) -> StreamConfig:
    return StreamConfig(
        name=inbound_stream_name(org_id),
        description=f"Inbound integration events of {org_id} (first message only: ingest()).",
        subjects=[organization_subjects(org_id)],
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
        ack_wait=ack_wait,
        max_ack_pending=MAX_ACK_PENDING,
        # Unlimited: only transient database errors nak; permanent failures are terminated.
        max_deliver=-1,
    )


async def ensure_inbound(
    js: JetStreamContext, org_id: str, ack_wait: float = ACK_WAIT_SECONDS
) -> bool:
    """Create the organization's stream, or update it to the settings, and its durable
    consumer if missing (an existing one is left as it is); True if the stream was created."""
    config = inbound_stream_config(org_id)
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        created = True
    else:
        await js.update_stream(config)
        created = False
    consumer = inbound_consumer_config(ack_wait)
    try:
        await js.consumer_info(config.name, consumer.durable_name)
    except NotFoundError:
        await js.add_consumer(config.name, consumer)
    return created


async def retire_shared_stream(js: JetStreamContext) -> bool:
    """Stop the stream every organization shared (HEALIX_INBOUND, healix.*.inbound.>) from
    taking new messages, so that the organizations' streams can take its subjects; what it
    holds stays for consume_bus to drain. True if there is such a stream to drain."""
    name = settings.HEALIX_INBOUND_STREAM
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        return False
    retired = f"{name}.retired"  # a subject no partner can publish to
    if info.config.subjects != [retired]:
        info.config.subjects = [retired]
        await js.update_stream(info.config)
    return True
