"""Small pure functions for the sharp parts of a payload: strict JSON parsing and the
canonical hash that decides whether two messages carry the same data."""

import hashlib
import json
import uuid
from typing import Any

import rfc8785

from integrations.schemas import Problem

__all__ = ["MAX_DEPTH", "canonical_hash", "has_nul", "parse_body"]

# Nesting deeper than this is no integration payload; the limit also keeps every walk over a
# payload far from Python's recursion limit.
MAX_DEPTH = 64
# I-JSON (RFC 7493), which RFC 8785 canonicalisation assumes: integers must fit a double exactly.
MAX_SAFE_INTEGER = 2**53 - 1


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
    """The JSON value of `body`, or the problems that make it unusable: not UTF-8, not JSON,
    or outside I-JSON (repeated keys, integers beyond 2^53 - 1, non-finite numbers, lone
    surrogates) or nested deeper than MAX_DEPTH. Whatever passes can be hashed canonically."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(
            text,
            # Refused rather than silently merged: a repeated key makes the data ambiguous.
            object_pairs_hook=_no_repeated_keys,
            parse_constant=_no_nan,
            parse_int=_safe_int,
            parse_float=_finite_float,
        )
        _check_shape(value)
        return value, []
    except UnicodeDecodeError as error:
        return None, [Problem("#", f"The body is not UTF-8: {error.reason} at byte {error.start}.")]
    except (ValueError, RecursionError) as error:
        return None, [Problem("#", f"Not valid JSON: {error}")]


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"{text[:30]} is beyond the integers JSON carries exactly (2^53 - 1)")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:30]} is too large a number")
    return value


def _check_shape(value: Any) -> None:
    """Depth and strings, walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("a string holds a lone surrogate (\\ud800-\\udfff)") from error


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {repeated!r} appears more than once in an object")
    return result


def has_nul(value: Any) -> bool:
    """Whether any string (key or value) holds NUL, which PostgreSQL text cannot store."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _no_nan(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
