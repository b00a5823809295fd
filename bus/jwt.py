"""The JWTs of the NATS auth callout (bus/access.py): encoded here, signed with `nkeys`
(the NATS maintainers' library).

The `nats-jwt` package covers operator, account and user claims but not the callout's
authorization request and response, calls itself untested, and pins old dependencies; the
format is small (an ed25519-signed JWS), so it is encoded here.
"""

import base64
import hashlib
import json
import time

import nkeys

__all__ = ["decode_jwt_claims", "encode_jwt"]

JWT_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}


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
