"""Every JetStream stream and durable consumer of Healix, in one place.

- HEALIX_EVENTS (`healix.<orgId>.<type>`): the outgoing system events the relay publishes
  (events/relay.py), one message per eventId; its durable consumer healix-webhooks fans them out
  to HTTP integrations (bus/webhook_fanout.py).
- HEALIX_INBOUND_<orgId> (`healix.<orgId>.inbound.<subject>`): what partners publish, one
  stream per organization, each with its durable consumer healix-inbound (bus/inbound.py).

One inbound stream per organization, not one for all: JetStream drops a message whose
`Nats-Msg-Id` it saw in the last two minutes in the same stream, and partners set that header.
In a stream shared by every organization, one organization's id silently dropped another's
message (acked as a duplicate, stored nowhere); per organization, an id can only ever drop the
publisher's own organization's copy (docs/bus-access.md, "One stream per organization"). It
also gives consume_bus a queue per organization to serve in turn (bus/fair_consumer.py).

`manage.py setup_streams` creates them all; consume_bus also does at start-up and for
organizations created later (every HEALIX_INBOUND_REFRESH_SECONDS). Both first retire the
stream all organizations shared before (HEALIX_INBOUND): it stops taking new messages, and
consume_bus drains what it holds, then deletes it.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from events.types import SUBJECT_PREFIX

__all__ = [
    "EVENT_SUBJECTS",
    "INBOUND_SUBJECTS",
    "StreamSetup",
    "ensure_events_stream",
    "ensure_inbound",
    "ensure_webhooks_consumer",
    "events_stream_config",
    "inbound_consumer_config",
    "inbound_stream_config",
    "inbound_stream_name",
    "inbound_subject",
    "organization_subjects",
    "parse_inbound_subject",
    "retire_shared_stream",
    "webhooks_consumer_config",
]

# Exactly three tokens, healix.<orgId>.<type>: the inbound streams' healix.<orgId>.inbound.>
# subjects have four or more, so they never overlap.
EVENT_SUBJECTS = f"{SUBJECT_PREFIX}.*.*"
INBOUND_SUBJECTS = "healix.*.inbound.>"

# Seconds the server waits for an ack before redelivering. Inbound: a batch commits in well
# under a second, and one that waited long for a worker is marked in progress
# (fair_consumer.py), so this only trips when a consumer died holding messages. Webhooks: a
# batch's fan-out commits in milliseconds.
INBOUND_ACK_WAIT_SECONDS = 30.0
WEBHOOKS_ACK_WAIT_SECONDS = 30.0
# Unacknowledged messages a consumer may have out at once, over all consume_bus processes: a
# few batches each (per organization for inbound).
INBOUND_MAX_ACK_PENDING = 5_000
WEBHOOKS_MAX_ACK_PENDING = 20_000

# An organization's slug (healix/models.py): what a subject's orgId token must look like.
ORG_ID_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\Z")


@dataclass(frozen=True)
class StreamSetup:
    name: str
    created: bool
    config: StreamConfig


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamSetup:
    """Create the stream, or update it to `config` if it exists (idempotent)."""
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        info = await js.add_stream(config)
        return StreamSetup(config.name, True, info.config)
    info = await js.update_stream(config)
    return StreamSetup(config.name, False, info.config)


async def _ensure_consumer(
    js: JetStreamContext, stream: str, config: ConsumerConfig
) -> ConsumerInfo:
    """Create the durable consumer if missing; an existing one keeps its position."""
    try:
        return await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        return await js.add_consumer(stream, config)


# --- Outgoing system events ---------------------------------------------------------------


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
    return await _ensure_stream(js, events_stream_config())


def webhooks_consumer_config(ack_wait: float = WEBHOOKS_ACK_WAIT_SECONDS) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.HEALIX_WEBHOOKS_CONSUMER,
        description="consume_bus: system events -> webhook deliveries",
        ack_policy=AckPolicy.EXPLICIT,
        # From its creation on: a new deployment does not replay a week of history to
        # integrations that were never subscribed to it.
        deliver_policy=DeliverPolicy.NEW,
        filter_subject=EVENT_SUBJECTS,
        ack_wait=ack_wait,
        max_ack_pending=WEBHOOKS_MAX_ACK_PENDING,
        max_deliver=-1,
    )


async def ensure_webhooks_consumer(
    js: JetStreamContext, ack_wait: float = WEBHOOKS_ACK_WAIT_SECONDS
) -> ConsumerInfo:
    return await _ensure_consumer(
        js, settings.HEALIX_EVENTS_STREAM, webhooks_consumer_config(ack_wait)
    )


# --- Inbound events, one stream per organization ----------------------------------------


def inbound_subject(org_id: str, subject: str) -> str:
    return f"healix.{org_id}.inbound.{subject}"


def organization_subjects(org_id: str) -> str:
    return f"healix.{org_id}.inbound.>"


def inbound_stream_name(org_id: str) -> str:
    # A slug is [a-z0-9-] (healix/models.py): always a valid stream name, and "_" keeps it
    # apart from the prefix.
    return f"{settings.HEALIX_INBOUND_STREAM}_{org_id}"


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


def inbound_consumer_config(ack_wait: float = INBOUND_ACK_WAIT_SECONDS) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.HEALIX_INBOUND_CONSUMER,
        description="consume_bus: inbound -> integrations.ingest()",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_ack_pending=INBOUND_MAX_ACK_PENDING,
        # Unlimited: only transient database errors nak; permanent failures are terminated.
        max_deliver=-1,
    )


async def ensure_inbound(
    js: JetStreamContext, org_id: str, ack_wait: float = INBOUND_ACK_WAIT_SECONDS
) -> bool:
    """The organization's stream (created, or updated to the settings) and its durable
    consumer; True if the stream was created."""
    stream = await _ensure_stream(js, inbound_stream_config(org_id))
    await _ensure_consumer(js, stream.name, inbound_consumer_config(ack_wait))
    return stream.created


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
