"""Small pure functions for the sharp parts of a payload: strict JSON parsing and the
canonical hash that decides whether two messages carry the same data."""

import hashlib
import json
from typing import Any

import rfc8785

from integrations.schemas import Problem

__all__ = ["canonical_hash", "has_nul", "parse_body"]


def canonical_hash(payload: Any) -> str:
    """SHA-256 of the RFC 8785 canonical JSON: key order and whitespace do not count."""
    return hashlib.sha256(rfc8785.dumps(payload)).hexdigest()


def parse_body(body: bytes | str) -> tuple[Any, list[Problem]]:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        # Refused rather than silently merged: a repeated key makes the data ambiguous.
        return json.loads(text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_nan), []
    except UnicodeDecodeError as error:
        return None, [Problem("#", f"The body is not UTF-8: {error.reason} at byte {error.start}.")]
    except (ValueError, RecursionError) as error:
        return None, [Problem("#", f"Not valid JSON: {error}")]


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {repeated!r} appears more than once in an object")
    return result


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def _no_nan(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
