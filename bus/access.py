"""Bus access with an API key: what the NATS auth callout of `manage.py bus_auth` grants.

A partner connects to nats-server with its API key as the token. nats-server (configured with
`auth_callout`, see docs/bus-access.md) hands the connection attempt to the callout service
(bus/callout.py), which verifies the key like the REST API does
(`api_auth.verified_key`) and answers with a user JWT (bus/jwt.py), signed by the
callout's issuer nkey, that places the connection in the partners' account with permissions
confining it to the key's organization and scopes (`bus_permissions`). A refusal carries no
hint of why: the client only ever sees "Authorization Violation", whether the key is unknown,
wrong, revoked or expired, or holds all the connections it may.

Each connection is named by its user JWT, `<org>/<key prefix>/<permissions digest>`, which is
how the watch of the live connections (bus/connections.py) finds the key of each, to
close those of revoked keys and those beyond a key's limit. A key's expiry is also the user
JWT's, which nats-server enforces itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import nkeys
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed, Throttled

from bus.jwt import encode_jwt
from bus.topology import inbound_subject
from events.types import subject_for
from healix.api.auth import note_use, verified_key
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey

__all__ = [
    "JS_API_PREFIX",
    "BusPermissions",
    "Grant",
    "authorization_response",
    "authorize",
    "bus_permissions",
    "consumer_name",
    "events_subject",
    "inbox_prefix",
    "user_name",
]

# Where nats-server's configuration imports the streams account's JetStream API for partners
# (docs/bus-access.md); nats-py: `nc.jetstream(prefix=JS_API_PREFIX)`.
JS_API_PREFIX = "JS.HEALIX.API"
# The error of every refusal, whatever its reason (unknown key, wrong secret, revoked, expired,
# no bus scope, too many connections): nothing tells a guessed key from a real one. Clients see
# nats-server's own "Authorization Violation" in any case.
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
        # What CONNZ shows as the connection's user (bus/connections.py).
        "name": user_name(api_key, permissions),
        "nats": {
            **permissions.as_claims(),
            # nats-server 2.15 applies none of these to a callout's users (it takes only the
            # permissions from their JWT); the partners' account `limits` enforce the same
            # numbers (docs/bus-access.md, "Limits"). NATS has no per-user data limit.
            "subs": settings.HEALIX_BUS_LIMITS.subscriptions,
            "data": -1,
            "payload": settings.HEALIX_BUS_LIMITS.payload_bytes,
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
