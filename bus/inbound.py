"""The inbound JetStream consumer of `manage.py consume_bus`.

The fair loop (bus/fair_consumer.py) fetches batches from every organization's stream
(bus/topology.py) and hands each to a worker thread; this module names the streams,
acks, naks or terminates each message and answers those that asked for a reply.
`process_batch` commits the whole batch in one transaction: one commit per batch, not per
message, is what makes thousands of messages per second possible. If the batch fails on
a database error (a deadlock with another consumer, a lost connection) it is rolled back and
each message is retried in its own transaction, so one message's trouble is its own.

Acks are sent only after the commit: a consumer killed in between gets its messages
redelivered, and ingest() then finds them to be duplicates of what it committed.
"""

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    close_old_connections,
    transaction,
)
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bus import client as bus_client
from bus.fair_consumer import FairConsumer, Source
from bus.pull_loop import TRANSIENT_ERRORS
from bus.topology import (
    ensure_inbound,
    inbound_stream_name,
    parse_inbound_subject,
    retire_shared_stream,
)
from healix.models import Organization
from healix.observability.tracing import TRACE_HEADER, clean_trace_id, new_trace_id, trace
from integrations.inbound import services, storage
from integrations.inbound.schemas import Problem
from integrations.models import InboundEvent, InboundSource, InboundStatus, UnroutableMessage

__all__ = [
    "REPLY_HEADER",
    "Action",
    "Item",
    "Result",
    "consume",
    "process_batch",
    "reply_refusal",
]

logger = logging.getLogger(__name__)

# JetStream keeps no reply subject, so a publisher who wants ingest's answer names an inbox
# in this header (a plain request would only get JetStream's own "stored" ack).
REPLY_HEADER = "Healix-Reply-To"
# Seconds before a message that failed on a transient database error is offered again.
NAK_DELAY_SECONDS = 5.0
# Tries of a whole batch after transient errors before each message is tried on its own.
BATCH_ATTEMPTS = 3


class Action:
    ACK = "ack"
    NAK = "nak"
    TERM = "term"


@dataclass(frozen=True)
class Item:
    subject: str
    data: bytes
    headers: dict[str, str]
    sequence: int | None = None


@dataclass(frozen=True)
class Result:
    action: str
    answer: dict[str, Any] | None = None


def _organization_pk(slug: str) -> int | None:
    return Organization.objects.filter(slug=slug).values_list("pk", flat=True).first()


def _unroutable(item: Item, reason: str) -> Result:
    trace_id = clean_trace_id(item.headers.get(TRACE_HEADER))
    with trace(trace_id):
        logger.warning("Unroutable inbound message: %s", reason, extra={"subject": item.subject})
    UnroutableMessage.objects.create(
        subject=item.subject[:500].replace("\x00", "\ufffd"),  # PostgreSQL text holds no NUL
        raw_body=storage.text_of(item.data),
        reason=reason.replace("\x00", "\ufffd"),
    )
    answer = {"type": "about:blank", "title": "Unknown organization", "status": 404}
    return Result(Action.TERM, {**answer, "detail": reason})


def _handle_all(items: list[Item], cache: services.DefinitionCache) -> list[Result]:
    """Ingest `items` in the caller's transaction: the unroutable ones are kept aside, the
    rest go through ingest_batch() together."""
    organizations: dict[str, int | None] = {}
    results: list[Result | None] = [None] * len(items)
    messages: list[tuple[int, services.Message]] = []
    for index, item in enumerate(items):
        parsed = parse_inbound_subject(item.subject)
        if parsed is None:
            reason = f"{item.subject} is not healix.<orgId>.inbound.<subject>."
            results[index] = _unroutable(item, reason)
            continue
        org_id, subject = parsed
        if org_id not in organizations:
            organizations[org_id] = _organization_pk(org_id)
        if organizations[org_id] is None:
            results[index] = _unroutable(item, f"No organization {org_id}.")
            continue
        trace_id = clean_trace_id(item.headers.get(TRACE_HEADER)) or new_trace_id()
        message = services.Message(
            organizations[org_id], subject, item.data, item.sequence, trace_id, org_id
        )
        messages.append((index, message))
    ingested = services.ingest_batch(
        [message for _index, message in messages], InboundSource.NATS, cache=cache
    )
    for (index, _message), result in zip(messages, ingested, strict=True):
        action = Action.TERM if result.outcome == services.Outcome.REJECTED else Action.ACK
        results[index] = Result(action, result.answer())
    return results  # type: ignore[return-value]


def _handle_alone(item: Item) -> Result:
    """One message in its own transaction, after its batch failed."""
    try:
        with transaction.atomic():
            return _handle_all([item], services.DefinitionCache())[0]
    except TRANSIENT_ERRORS:
        logger.warning("Transient database error on %s; nak", item.subject, exc_info=True)
        close_old_connections()
        return Result(Action.NAK)
    except Exception as error:  # a bug or a value PostgreSQL refuses: never retry forever
        logger.exception("Cannot process %s; storing it as rejected", item.subject)
        return _store_failure(item, error)


def _store_failure(item: Item, error: Exception) -> Result:
    parsed = parse_inbound_subject(item.subject)
    problem = Problem("#", f"Healix could not process this message ({type(error).__name__}).")
    try:
        organization_id = _organization_pk(parsed[0]) if parsed else None
        if organization_id is None:
            return _unroutable(item, problem.detail)
        event = InboundEvent.objects.create(
            organization_id=organization_id,
            subject=parsed[1][:200],
            source=InboundSource.NATS,
            status=InboundStatus.REJECTED,
            raw_body=storage.text_of(item.data),
            errors=[problem.as_dict()],
            stream_sequence=item.sequence,
        )
    except DatabaseError:
        close_old_connections()
        return Result(Action.NAK)
    answer = {"type": "about:blank", "title": "Internal error", "status": 500}
    return Result(Action.TERM, {**answer, "detail": problem.detail, "id": str(event.pk)})


def process_batch(items: list[Item]) -> list[Result]:
    """Ingest `items`, committed together when possible; one Result per item, in order."""
    close_old_connections()
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _handle_all(items, services.DefinitionCache())
        except TRANSIENT_ERRORS:
            # Usually a deadlock with another consumer counting the same duplicates: the
            # victim rolled back, so the whole batch can simply run again.
            logger.info("Batch of %d failed (attempt %d)", len(items), attempt, exc_info=True)
            close_old_connections()
        except Exception:
            logger.info("Batch of %d failed; one by one now", len(items), exc_info=True)
            break
    return [_handle_alone(item) for item in items]


def _item(msg: Msg) -> Item:
    try:
        sequence = msg.metadata.sequence.stream
    except Exception:  # not a JetStream message (tests may hand plain ones)
        sequence = None
    return Item(msg.subject, msg.data, dict(msg.headers or {}), sequence)


# Where a publisher may ask for the answer: a partner key's inbox, _INBOX.<orgId>.<key
# prefix>.<id>... (nats-py's new_inbox() under the key's inbox_prefix), never another subject.
REPLY_SUBJECT = re.compile(r"_INBOX\.(?P<org>[a-z0-9-]+)\.[A-Za-z0-9]+(\.[A-Za-z0-9_-]+)+\Z")


def reply_refusal(subject: str, reply_to: str) -> str | None:
    """Why the answer to a message on `subject` must not go to `reply_to`; None if it may.

    Healix's own connection may publish anywhere, and the `_INBOX.*.*.>` export carries its
    answers into the partners' account, so the partner's choice is checked against what the
    publisher is known to be. The subject's orgId is the one thing known: the callout lets a
    key publish only to its own organization's inbound subjects. The key itself is not:
    JetStream drops the `Nats-Request-Info` header that names the publisher before it stores
    a message (docs/bus-access.md, "Replies"), so the answer may go to any inbox of the
    publisher's organization, never to another organization's nor to the platform's own."""
    match = REPLY_SUBJECT.match(reply_to)
    if match is None:
        return "answers go to a partner key's inbox, _INBOX.<orgId>.<key prefix>.<id>, only"
    parsed = parse_inbound_subject(subject)
    if parsed is None or parsed[0] != match["org"]:
        return "answers go to an inbox of the organization the message was published for"
    return None


async def _settle(nc, msg: Msg, result: Result) -> None:
    if result.action == Action.ACK:
        await msg.ack()
    elif result.action == Action.TERM:
        await msg.term()
    else:
        await msg.nak(delay=NAK_DELAY_SECONDS)
        return
    reply_to = (msg.headers or {}).get(REPLY_HEADER)
    if reply_to and result.answer is not None:
        refusal = reply_refusal(msg.subject, reply_to)
        if refusal is not None:
            logger.warning(
                "Not answering on %r: %s", reply_to, refusal, extra={"subject": msg.subject}
            )
            return
        try:
            await nc.publish(reply_to, json.dumps(result.answer).encode())
        except Exception:  # the answer is a courtesy; the message is settled already
            logger.warning("Could not answer on %r", reply_to, exc_info=True)


class OrganizationStreams:
    """What consume_bus follows: the retired shared stream while it holds messages, and every
    organization's stream, created if missing. Each look names them all: a look that failed
    half-way loses nothing."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self.sources: dict[str, Source] = {}
        self.shared_retired = False

    async def __call__(self) -> list[Source]:
        if not self.shared_retired:
            # First: the organizations' streams cannot take subjects it still has.
            if await retire_shared_stream(self.js):
                shared = settings.HEALIX_INBOUND_STREAM
                self.sources[shared] = Source(shared, drain=True)
            self.shared_retired = True
        loop = asyncio.get_running_loop()
        for org_id in sorted(await loop.run_in_executor(None, _organization_ids)):
            name = inbound_stream_name(org_id)
            if name not in self.sources:
                await ensure_inbound(self.js, org_id)
                self.sources[name] = Source(name)
        return list(self.sources.values())


def _organization_ids() -> set[str]:
    close_old_connections()
    try:
        return set(Organization.objects.values_list("slug", flat=True))
    finally:
        close_old_connections()


async def consume(
    stop: asyncio.Event,
    *,
    url: str | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Run until `stop` is set: fetch, process, settle (bus/fair_consumer.py)."""
    nc = await bus_client.connect(
        url or settings.NATS_URL, name="healix-bus", max_reconnect_attempts=-1
    )
    try:
        consumer = FairConsumer(
            nc,
            name="healix-bus",
            durable=settings.HEALIX_INBOUND_CONSUMER,
            batch_size=batch_size or settings.HEALIX_INBOUND_BATCH,
            workers=workers or settings.HEALIX_INBOUND_WORKERS,
            handle=lambda msgs: process_batch([_item(msg) for msg in msgs]),
            settle=_settle,
            failed=Result(Action.NAK),
            on_batch=on_batch,
        )
        logger.info("consuming the organizations' inbound streams")
        sources = OrganizationStreams(nc.jetstream())
        await consumer.run(stop, sources, settings.HEALIX_INBOUND_REFRESH_SECONDS)
    finally:
        # close, not drain: acks were flushed after each batch, and draining the pull
        # subscriptions would wait out their pending fetch requests.
        await nc.close()
