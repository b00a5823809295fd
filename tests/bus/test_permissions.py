"""The callout's decisions without a server: permissions per scope, the JWTs it signs, refusals
that look alike, and which connections the revocation sweep closes."""

import base64
import json
from datetime import timedelta

import nacl.signing
import nkeys
import pytest
from django.utils import timezone

from bus.access import (
    JS_API_PREFIX,
    authorization_response,
    authorize,
    bus_permissions,
    user_name,
)
from bus.connections import connections_to_close
from bus.jwt import encode_jwt
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from tests.fixtures.integrations import make_api_key

pytestmark = pytest.mark.django_db

USER_NKEY = nkeys.from_seed(
    nkeys.encode_seed(b"\x01" * 32, nkeys.PREFIX_BYTE_USER)
).public_key.decode()
ISSUER = nkeys.from_seed(nkeys.encode_seed(b"\x02" * 32, nkeys.PREFIX_BYTE_ACCOUNT))
SERVER_REQUEST = {"user_nkey": USER_NKEY, "server_id": {"id": "NSERVER"}}


def row(key: str) -> OrganizationAPIKey:
    return OrganizationAPIKey.objects.get_from_key(key)


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_permissions_follow_the_scopes_and_name_one_organization(org):
    both = row(make_api_key(org, "both", scopes=[Scope.INBOUND_WRITE, Scope.EVENTS_READ]))
    writer = row(make_api_key(org, "writer", scopes=[Scope.INBOUND_WRITE]))
    reader = row(make_api_key(org, "reader", scopes=[Scope.EVENTS_READ]))
    neither = row(make_api_key(org, "neither", scopes=[Scope.PLANS_READ, Scope.PLANS_WRITE]))
    consumer = f"hrh_{both.prefix}"
    permissions = bus_permissions(both)
    assert permissions.publish == [
        "healix.hrh.inbound.>",
        f"{JS_API_PREFIX}.CONSUMER.INFO.HEALIX_EVENTS.{consumer}",
        f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.HEALIX_EVENTS.{consumer}",
        f"$JS.ACK.HEALIX_EVENTS.{consumer}.>",
    ]
    assert permissions.subscribe == ["healix.hrh.*", f"_INBOX.hrh.{both.prefix}.>"]
    assert bus_permissions(writer).publish == ["healix.hrh.inbound.>"]
    assert bus_permissions(writer).subscribe == [f"_INBOX.hrh.{writer.prefix}.>"]
    assert bus_permissions(reader).publish[0].startswith(f"{JS_API_PREFIX}.CONSUMER.INFO.")
    assert "healix.hrh.inbound.>" not in bus_permissions(reader).publish
    assert bus_permissions(neither) is None


def test_user_jwt_is_signed_by_the_issuer_and_places_the_key_in_the_partners_account(org, settings):
    expiry = timezone.now() + timedelta(days=1)
    key = make_api_key(org, expiry_date=expiry)
    grant = authorize(key, USER_NKEY, "192.0.2.1")
    token = encode_jwt(grant.claims, ISSUER)
    header, payload, signature = token.split(".")
    # The signature verifies with the issuer's public key (nkeys: base32 of prefix byte + key)
    raw_public = base64.b32decode(ISSUER.public_key)[1:-2]
    nacl.signing.VerifyKey(raw_public).verify(
        f"{header}.{payload}".encode(),
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
    )
    claims = claims_of(token)
    assert claims["iss"] == ISSUER.public_key.decode()
    assert (claims["sub"], claims["aud"]) == (USER_NKEY, settings.HEALIX_BUS_ACCOUNT)
    assert claims["exp"] == int(expiry.timestamp())
    assert claims["nats"]["type"] == "user"
    assert claims["nats"]["pub"]["allow"][0] == "healix.hrh.inbound.>"
    assert claims["name"] == user_name(row(key), bus_permissions(row(key)))


def test_refusals_are_identical_whatever_the_reason(org):
    key = make_api_key(org)
    revoked = make_api_key(org, "revoked")
    OrganizationAPIKey.objects.filter(prefix=revoked.partition(".")[0]).update(revoked=True)
    prefix = key.partition(".")[0]
    tokens = [
        "",
        "Zz9Zz9Zz.unknownKeySecret0000000000000000",
        f"{prefix}.wrongSecret000000000000000000000",
        prefix,
        revoked,
    ]
    answers = []
    for token in tokens:
        grant = authorize(token, USER_NKEY, "192.0.2.1")
        request = {**SERVER_REQUEST, "connect_opts": {"auth_token": token}}
        response = claims_of(authorization_response(request, grant, ISSUER))
        answers.append((response["sub"], response["aud"], response["nats"]))
    assert answers == [answers[0]] * len(tokens)
    assert answers[0][2] == {
        "type": "authorization_response",
        "version": 2,
        "error": "not authorized",
    }


def test_sweep_closes_connections_whose_key_no_longer_allows_them(org):
    kept = row(make_api_key(org, "kept"))
    revoked = row(make_api_key(org, "revoked"))
    narrowed = row(make_api_key(org, "narrowed"))
    expired = row(make_api_key(org, "expiring"))
    deleted = row(make_api_key(org, "deleted"))
    names = {
        key.prefix: user_name(key, bus_permissions(key))
        for key in (kept, revoked, narrowed, expired, deleted)
    }
    OrganizationAPIKey.objects.filter(pk=revoked.pk).update(revoked=True)
    OrganizationAPIKey.objects.filter(pk=narrowed.pk).update(scopes=[Scope.INBOUND_WRITE])
    OrganizationAPIKey.objects.filter(pk=expired.pk).update(expiry_date=timezone.now())
    OrganizationAPIKey.objects.filter(pk=deleted.pk).delete()
    unparseable = "not-a-partner-name"
    to_close = connections_to_close({*names.values(), unparseable})
    assert to_close == {*names.values(), unparseable} - {names[kept.prefix]}
