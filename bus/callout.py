"""The NATS auth callout service of `manage.py bus_auth`: answers nats-server's authorization
requests (what a key is granted: bus/access.py) and watches the partners' connections
(bus/connections.py), until stopped.

Revocation: every HEALIX_BUS_REVOCATION_CHECK_SECONDS the service sweeps the partners'
connections and closes (KICK) those whose key is now revoked, expired, deleted or changed in
what it may do, and those beyond their key's connection limit. So a revoked key's live
connection is closed within that period; the next connect is refused at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nkeys
from django.conf import settings
from django.db import close_old_connections
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus import client as bus_client
from bus.access import (
    Grant,
    authorization_response,
    authorize,
    consumer_name,
    events_subject,
)
from bus.connections import ConnectionWatch
from bus.jwt import decode_jwt_claims
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from healix.observability.logcontext import bind

__all__ = ["AUTH_SUBJECT", "ensure_consumer", "serve"]

logger = logging.getLogger(__name__)

# Where nats-server sends its authorization requests (fixed by the callout protocol).
AUTH_SUBJECT = "$SYS.REQ.USER.AUTH"
# A queue group, so that two copies of the service share the requests.
QUEUE_GROUP = "healix-bus-auth"
# Seconds during which a consumer made sure of is taken to exist: reconnect storms then cost
# no JetStream call each (JetStream drops a consumer only after days unused).
CONSUMER_RECHECK_SECONDS = 60.0


def _grant(request: dict) -> Grant | None:
    close_old_connections()  # a connection the database dropped is replaced, not reused
    token = (request.get("connect_opts") or {}).get("auth_token") or ""
    host = (request.get("client_info") or {}).get("host") or ""
    return authorize(token, request["user_nkey"], host)


async def ensure_consumer(js: JetStreamContext, api_key: OrganizationAPIKey) -> None:
    """The key's durable pull consumer of its organization's events (made here, not by the
    partner, see bus_permissions). It starts at the first connection's time (older events are
    in the REST events feed) and is dropped after HEALIX_EVENTS_MAX_AGE_SECONDS unused."""
    await js.add_consumer(
        settings.HEALIX_EVENTS_STREAM,
        ConsumerConfig(
            durable_name=consumer_name(api_key),
            filter_subject=events_subject(api_key),
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            inactive_threshold=float(settings.HEALIX_EVENTS_MAX_AGE_SECONDS),
            # What the server holds for a key that pulls and never acks (bus/limits.py).
            max_ack_pending=settings.HEALIX_BUS_LIMITS.ack_pending,
        ),
    )


async def _admitted(watch: ConnectionWatch, grant: Grant, request: dict) -> bool:
    """Whether the key of `grant` may open this connection: not past its connection limit."""
    client = request.get("client_info") or {}
    name = grant.claims["name"]
    if await watch.admit(name, request["server_id"]["id"], client.get("id", 0)):
        return True
    with bind(org_id=grant.api_key.organization.slug):
        logger.warning(
            "Bus connection refused: key %s holds %d connections, its limit",
            grant.api_key.prefix,
            settings.HEALIX_BUS_LIMITS.connections_per_key,
        )
    return False


async def serve(stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
    """Answer nats-server's authorization requests, and sweep the partners' connections (revoked
    keys, keys past their connection limit), until `stop` is set."""
    issuer = nkeys.from_seed(settings.HEALIX_BUS_AUTH_ISSUER_SEED.encode())
    loop = asyncio.get_running_loop()
    # Three connections: the callout's own account receives the requests; the streams'
    # account (NATS_URL, the platform's user) is where the partners' consumers are made; the
    # system account lists and closes connections.
    callout = await bus_client.connect(
        settings.HEALIX_BUS_AUTH_NATS_URL, name="healix-bus-auth", max_reconnect_attempts=-1
    )
    service = await bus_client.connect(
        settings.NATS_URL, name="healix-bus-auth-consumers", max_reconnect_attempts=-1
    )
    system = await bus_client.connect(
        settings.HEALIX_BUS_SYSTEM_NATS_URL, name="healix-bus-auth-sweep", max_reconnect_attempts=-1
    )
    js = service.jetstream()
    watch = ConnectionWatch(system, loop)
    ensured: dict[str, float] = {}  # consumer name -> when it was last made sure of

    async def answer(msg) -> None:
        try:
            request = decode_jwt_claims(msg.data.decode())["nats"]
            # The database work runs in a thread: the event loop keeps the connections alive.
            grant = await loop.run_in_executor(None, _grant, request)
            if grant is not None and not await _admitted(watch, grant, request):
                grant = None
            if grant is not None and Scope.EVENTS_READ in grant.api_key.scopes:
                name = consumer_name(grant.api_key)
                if loop.time() - ensured.get(name, -CONSUMER_RECHECK_SECONDS) >= (
                    CONSUMER_RECHECK_SECONDS
                ):
                    await ensure_consumer(js, grant.api_key)
                    ensured[name] = loop.time()
            await msg.respond(authorization_response(request, grant, issuer).encode())
            with bind(org_id=grant.api_key.organization.slug if grant else None):
                logger.info("Bus connection %s", "authorized" if grant else "refused")
        except Exception:
            # A malformed request, a database or JetStream outage: no answer, so nats-server
            # refuses the client when its wait runs out; the service lives on.
            logger.exception("Authorization request failed; the connection is refused")

    answering: set[asyncio.Task] = set()

    async def on_request(msg) -> None:
        # nats-py runs a subscription's callbacks one after another: a task per request lets
        # the database checks of concurrent connects overlap.
        task = asyncio.create_task(answer(msg))
        answering.add(task)
        task.add_done_callback(answering.discard)

    requests = await callout.subscribe(AUTH_SUBJECT, queue=QUEUE_GROUP, cb=on_request)
    try:
        await callout.flush()
        if ready is not None:
            ready.set()
        while not stop.is_set():
            try:
                await watch.sweep()
            except Exception:
                logger.exception("Connection sweep failed; trying again next period")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.HEALIX_BUS_REVOCATION_CHECK_SECONDS)
    finally:
        # No new requests; the answers under way are sent before the connections close.
        await requests.unsubscribe()
        await asyncio.gather(*answering, return_exceptions=True)
        await callout.close()
        await service.close()
        await system.close()
