"""Bus access with an API key: the NATS auth callout of `manage.py bus_auth`.

A partner connects to nats-server with its API key as the token. nats-server (configured with
`auth_callout`, see docs/bus-access.md) hands the connection attempt to this service on
`$SYS.REQ.USER.AUTH`; the service verifies the key like the REST API does
(`api_auth.verified_key`) and answers with a user JWT, signed by the callout's issuer nkey,
that places the connection in the partners' account with permissions confining it to the
key's organization and scopes (`bus_permissions`). A refusal carries no hint of why: the
client only ever sees "Authorization Violation", whether the key is unknown, wrong, revoked
or expired.

Revocation: every HEALIX_BUS_REVOCATION_CHECK_SECONDS the service lists the partners'
connections (the system account's CONNZ, which names each connection's user JWT,
`<org>/<key prefix>/<permissions digest>`) and closes (KICK) those whose key is now revoked,
expired, deleted or changed in what it may do. So a revoked key's live connection is closed
within that period; the next connect is refused at once. A key's expiry is also the user
JWT's, which nats-server enforces itself.

JWTs: the `nats-jwt` package covers operator, account and user claims but not the callout's
authorization request and response, calls itself untested, and pins old dependencies; the
format is small (an ed25519-signed JWS), so it is encoded here, with `nkeys` (the NATS
maintainers' library) doing the signing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass

import nats
import nkeys
from django.conf import settings
from django.db import close_old_connections
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from rest_framework.exceptions import AuthenticationFailed, Throttled

from events.types import subject_for
from healix.api_auth import note_use, verified_key
from healix.logcontext import bind
from healix.models import OrganizationAPIKey
from healix.scopes import Scope
from integrations.streams import inbound_subject

__all__ = [
    "AUTH_SUBJECT",
    "BusPermissions",
    "Grant",
    "authorization_response",
    "authorize",
    "bus_permissions",
    "consumer_name",
    "inbox_prefix",
    "serve",
    "sweep_revoked",
]

logger = logging.getLogger(__name__)

# Where nats-server sends its authorization requests (fixed by the callout protocol).
AUTH_SUBJECT = "$SYS.REQ.USER.AUTH"
# A queue group, so that two copies of the service share the requests.
QUEUE_GROUP = "healix-bus-auth"
# Where nats-server's configuration imports the streams account's JetStream API for partners
# (docs/bus-access.md); nats-py: `nc.jetstream(prefix=JS_API_PREFIX)`.
JS_API_PREFIX = "JS.HEALIX.API"
# Connections listed per server and sweep; more than this many partner connections on one
# server would need paging.
CONNZ_LIMIT = 10_000
# Seconds to wait for the servers' answers to a system request (all of a cluster's servers
# answer; a local one in about a millisecond).
SYSTEM_REPLY_WINDOW_SECONDS = 0.5
# Seconds during which a consumer made sure of is taken to exist: reconnect storms then cost
# no JetStream call each (JetStream drops a consumer only after days unused).
CONSUMER_RECHECK_SECONDS = 60.0
JWT_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
# The error of every refusal, whatever its reason (unknown key, wrong secret, revoked, expired,
# no bus scope): nothing tells a guessed key from a real one. Clients see nats-server's own
# "Authorization Violation" in any case.
REFUSAL = "not authorized"


@dataclass(frozen=True)
class BusPermissions:
    publish: list[str]
    subscribe: list[str]

    def as_claims(self) -> dict:
        return {"pub": {"allow": self.publish}, "sub": {"allow": self.subscribe}}


def consumer_name(api_key: OrganizationAPIKey) -> str:
    """The one JetStream consumer a key may use: `<org>_<key prefix>`. Slugs have no `_` and
    prefixes are alphanumeric, so the names of two keys never collide."""
    return f"{api_key.organization.slug}_{api_key.prefix}"


def events_subject(api_key: OrganizationAPIKey) -> str:
    """The key's organization's outgoing events: `healix.<org>.*`."""
    return subject_for(api_key.organization.slug, "*")


def inbox_prefix(api_key: OrganizationAPIKey) -> str:
    """The key's own reply subjects (nats-py's `inbox_prefix`): the replies of JetStream calls
    carry the messages, so another key, even of the same organization, must not see them."""
    return f"_INBOX.{api_key.organization.slug}.{api_key.prefix}"


def bus_permissions(api_key: OrganizationAPIKey) -> BusPermissions | None:
    """What the key's connection may publish and subscribe to, or None when its scopes give it
    nothing on the bus. Everything else (other organizations, $SYS, stream administration,
    other consumers) is denied, since NATS permissions allow only what they list."""
    org = api_key.organization.slug
    publish: list[str] = []
    subscribe: list[str] = []
    if Scope.INBOUND_WRITE in api_key.scopes:
        publish.append(inbound_subject(org, ">"))
    if Scope.EVENTS_READ in api_key.scopes:
        stream = settings.HEALIX_EVENTS_STREAM
        consumer = consumer_name(api_key)
        subscribe.append(events_subject(api_key))
        # Its consumer is made by this service (ensure_consumer), never by the partner: a
        # consumer's configuration (a push consumer's deliver subject) could otherwise send
        # messages where they were never meant to go.
        publish += [
            f"{JS_API_PREFIX}.CONSUMER.INFO.{stream}.{consumer}",
            f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    if not publish and not subscribe:
        return None
    # Replies: the JetStream publish acks, JetStream API answers, pulled messages, and the
    # answers of Healix-Reply-To (docs/inbound.md).
    subscribe.append(f"{inbox_prefix(api_key)}.>")
    return BusPermissions(publish=publish, subscribe=subscribe)


# --- JWTs ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict, issuer: nkeys.KeyPair) -> str:
    """A NATS JWT: `iss` is the issuer's public key, `jti` the hash of the claims (as nats-io/jwt
    computes it), signed with ed25519 by the issuer."""
    claims = {**claims, "iss": issuer.public_key.decode(), "iat": int(time.time()), "jti": ""}
    body = json.dumps(claims, separators=(",", ":")).encode()
    claims["jti"] = base64.b32encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    signing_input = (
        f"{_b64(json.dumps(JWT_HEADER).encode())}"
        f".{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode()))}"


def decode_jwt_claims(token: str) -> dict:
    """The claims of a JWT, unverified: the request comes from nats-server over the callout's
    own account, where only the server and this service's user can publish."""
    _header, payload, _signature = token.split(".")
    return json.loads(_unb64(payload))


# --- The callout --------------------------------------------------------------------------


def permissions_digest(permissions: BusPermissions) -> str:
    """A short fingerprint of what a connection may do, kept in its user name so that the
    revocation sweep sees when a key's scopes changed."""
    text = json.dumps(permissions.as_claims(), sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()[:12]


def user_name(api_key: OrganizationAPIKey, permissions: BusPermissions) -> str:
    return f"{api_key.organization.slug}/{api_key.prefix}/{permissions_digest(permissions)}"


def user_claims(api_key: OrganizationAPIKey, user_nkey: str) -> dict | None:
    permissions = bus_permissions(api_key)
    if permissions is None:
        return None
    claims = {
        "sub": user_nkey,
        # In nats-server's configuration mode the audience names the account to place it in.
        "aud": settings.HEALIX_BUS_ACCOUNT,
        # What CONNZ shows as the connection's user (see sweep_revoked).
        "name": user_name(api_key, permissions),
        "nats": {
            **permissions.as_claims(),
            "subs": -1,
            "data": -1,
            "payload": -1,
            "type": "user",
            "version": 2,
        },
    }
    if api_key.expiry_date is not None:
        claims["exp"] = int(api_key.expiry_date.timestamp())
    return claims


@dataclass(frozen=True)
class Grant:
    api_key: OrganizationAPIKey
    claims: dict


def authorize(token: str, user_nkey: str, host: str) -> Grant | None:
    """What a connection from `host` presenting `token` is granted, or None to refuse it. A
    failure is counted for the host and the token's prefix, as REST counts it, never for the
    key; past the limit it is refused just the same (a refusal tells nothing more)."""
    if not token:
        return None
    try:
        api_key = verified_key(token, host)
    except (AuthenticationFailed, Throttled):
        return None
    claims = user_claims(api_key, user_nkey)
    if claims is None:
        return None
    note_use(api_key)
    return Grant(api_key, claims)


def authorization_response(request: dict, grant: Grant | None, issuer: nkeys.KeyPair) -> str:
    """The answer to nats-server's authorization `request` (the `nats` claims of its JWT): an
    authorization response JWT holding either the user JWT or a refusal."""
    answer: dict = {"type": "authorization_response", "version": 2}
    if grant is None:
        answer["error"] = REFUSAL
    else:
        answer["jwt"] = encode_jwt(grant.claims, issuer)
    claims = {"sub": request["user_nkey"], "aud": request["server_id"]["id"], "nats": answer}
    return encode_jwt(claims, issuer)


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
        ),
    )


def connections_to_close(user_names: set[str]) -> set[str]:
    """Of the partners' connection user names, those whose key no longer grants exactly what
    the connection was given: revoked, expired, deleted, or with other scopes."""
    prefixes = {name.split("/")[1] for name in user_names if name.count("/") == 2}
    keys = {
        key.prefix: key
        for key in OrganizationAPIKey.objects.filter(
            prefix__in=prefixes, revoked=False
        ).select_related("organization")
    }
    still_valid = set()
    for key in keys.values():
        permissions = bus_permissions(key)
        if permissions is not None and not key.has_expired:
            still_valid.add(user_name(key, permissions))
    return user_names - still_valid


def _connections_to_close(user_names: set[str]) -> set[str]:
    close_old_connections()  # a connection the database dropped is replaced, not reused
    return connections_to_close(user_names)


async def _gather(nc: nats.NATS, subject: str, payload: dict, window: float) -> list[dict]:
    """Every server's answer to a system request (one per server of a cluster)."""
    inbox = nc.new_inbox()
    answers = await nc.subscribe(inbox)
    try:
        await nc.publish(subject, json.dumps(payload).encode(), reply=inbox)
        gathered = []
        while True:
            try:
                message = await answers.next_msg(timeout=window)
            except TimeoutError:  # idle (nats-py raises its own subclass or asyncio's plain one)
                return gathered
            gathered.append(json.loads(message.data))
    finally:
        await answers.unsubscribe()


async def sweep_revoked(system: nats.NATS, loop: asyncio.AbstractEventLoop) -> int:
    """Close the partners' connections whose key no longer allows them; how many were closed."""
    account = settings.HEALIX_BUS_ACCOUNT
    connz = await _gather(
        system,
        f"$SYS.REQ.ACCOUNT.{account}.CONNZ",
        {"auth": True, "limit": CONNZ_LIMIT},
        SYSTEM_REPLY_WINDOW_SECONDS,
    )
    connections = [
        (answer["data"]["server_id"], connection["cid"], connection.get("authorized_user", ""))
        for answer in connz
        if "data" in answer
        for connection in answer["data"].get("connections") or []
    ]
    if not connections:
        return 0
    names = {name for _server, _cid, name in connections}
    to_close = await loop.run_in_executor(None, _connections_to_close, names)
    closed = 0
    for server_id, cid, name in connections:
        if name in to_close:
            await system.request(
                f"$SYS.REQ.SERVER.{server_id}.KICK",
                json.dumps({"cid": cid}).encode(),
                timeout=SYSTEM_REPLY_WINDOW_SECONDS,
            )
            logger.info("Closed bus connection %s of %s: its key no longer allows it", cid, name)
            closed += 1
    return closed


async def serve(stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
    """Answer nats-server's authorization requests, and sweep revoked keys' connections, until
    `stop` is set."""
    issuer = nkeys.from_seed(settings.HEALIX_BUS_AUTH_ISSUER_SEED.encode())
    loop = asyncio.get_running_loop()
    # Three connections: the callout's own account receives the requests; the streams'
    # account (NATS_URL, the platform's user) is where the partners' consumers are made; the
    # system account lists and closes connections.
    callout = await nats.connect(
        settings.HEALIX_BUS_AUTH_NATS_URL, name="healix-bus-auth", max_reconnect_attempts=-1
    )
    service = await nats.connect(
        settings.NATS_URL, name="healix-bus-auth-consumers", max_reconnect_attempts=-1
    )
    system = await nats.connect(
        settings.HEALIX_BUS_SYSTEM_NATS_URL, name="healix-bus-auth-sweep", max_reconnect_attempts=-1
    )
    js = service.jetstream()
    ensured: dict[str, float] = {}  # consumer name -> when it was last made sure of

    async def answer(msg) -> None:
        try:
            request = decode_jwt_claims(msg.data.decode())["nats"]
            # The database work runs in a thread: the event loop keeps the connections alive.
            grant = await loop.run_in_executor(None, _grant, request)
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
                await sweep_revoked(system, loop)
            except Exception:
                logger.exception("Revocation sweep failed; trying again next period")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.HEALIX_BUS_REVOCATION_CHECK_SECONDS)
    finally:
        # No new requests; the answers under way are sent before the connections close.
        await requests.unsubscribe()
        await asyncio.gather(*answering, return_exceptions=True)
        await callout.close()
        await service.close()
        await system.close()
