"""Small pure functions for the sharp parts of a payload: strict JSON parsing and the
canonical hash that decides whether two messages carry the same data."""

import hashlib
import uuid
from typing import Any

import rfc8785

from healix import strict_json
from integrations.inbound.schemas import Problem

__all__ = ["canonical_hash", "has_nul", "parse_body"]

# The routing ids, compared as UUIDs: an upper-case planId names the same plan, so it is the
# same data.
ROUTING_IDS = ("planId", "userId")


def canonical_hash(payload: Any) -> str:
    """SHA-256 of the RFC 8785 canonical JSON: key order, whitespace and the case of the
    routing ids do not count."""
    if isinstance(payload, dict) and any(name in payload for name in ROUTING_IDS):
        payload = {
            **payload,
            **{name: _uuid_text(payload[name]) for name in ROUTING_IDS if name in payload},
        }
    return hashlib.sha256(rfc8785.dumps(payload)).hexdigest()


def _uuid_text(value: Any) -> Any:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else value
    except ValueError:
        return value


def parse_body(body: bytes | str) -> tuple[Any, list[Problem]]:
    """The JSON value of `body`, or the problem that makes it unusable: not UTF-8, not JSON,
    or outside I-JSON (healix/strict_json.py, the parser of every REST body too). Whatever
    passes can be hashed canonically."""
    try:
        return strict_json.loads(body), []
    except strict_json.StrictJSONError as error:
        return None, [Problem("#", f"Not valid JSON: {error}")]


def has_nul(value: Any) -> bool:
    """Whether any string (key or value) holds NUL, which PostgreSQL text cannot store."""
    return strict_json.nul_path(value) is not None
