"""The one strict JSON parser of every body and document Healix reads: REST request bodies
(healix/api/parsers.py), inbound payloads (integrations/inbound/payloads.py), the admin's JSON
inputs
(healix/admin/json_forms.py) and template documents (templates/transfer.py).

Python's json module accepts more than JSON, and more than PostgreSQL and RFC 8785 can take:
repeated keys (the last silently wins), NaN and Infinity, integers of any size (past 4,300
digits a ValueError), and nesting until a RecursionError. Here each of these is refused with
a sentence that names it; whatever passes is I-JSON (RFC 7493). Pure functions, no Django.
"""

import json
import math
import re
import sys
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "StrictJSONError",
    "loads",
    "nul_path",
]

# Nesting deeper than this is no payload, form value or document that a person or partner
# writes; the limit also keeps every later walk (validation, rendering) far from Python's
# recursion limit of 1,000.
MAX_DEPTH = 64
# I-JSON (RFC 7493), which RFC 8785 canonicalisation assumes: integers must fit a double
# exactly. Partners' JSON parsers (JavaScript's among them) read nothing larger exactly.
MAX_SAFE_INTEGER = 2**53 - 1
# Digits shown of a refused number: enough to recognise it, not a 5,000-digit echo.
SHOWN_NUMBER_CHARS = 24
BEYOND = "beyond ±(2^53 - 1), the integers JSON carries exactly"
# A JSON escape of a UTF-16 surrogate (\\ud800-\\udfff).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJSONError(ValueError):
    """Why a text is not strict JSON; str() is a sentence without a trailing period."""


def loads(body: bytes | str) -> Any:
    """The JSON value of `body` (bytes must be UTF-8), or StrictJSONError naming the first
    thing that is not strict JSON: malformed text, a repeated key, NaN or Infinity, an
    integer beyond ±(2^53 - 1), a number too large for a double, a lone surrogate, or
    nesting deeper than MAX_DEPTH."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            reason = f"the bytes are not UTF-8: {error.reason} at byte {error.start}"
            raise StrictJSONError(reason) from None
    else:
        text = body
        _check_text(text)  # a text made in Python may hold a lone surrogate as such
    try:
        value = json.loads(text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant)
    except StrictJSONError:
        raise
    except json.JSONDecodeError as error:
        raise StrictJSONError(str(error)) from None
    except ValueError:
        # The one other ValueError of the scanner: int() refusing a number past 4,300 digits.
        digits = sys.get_int_max_str_digits()
        raise StrictJSONError(f"an integer of more than {digits} digits is {BEYOND}") from None
    except RecursionError:
        # The C scanner recurses once per level: far past MAX_DEPTH, so say the same thing.
        raise StrictJSONError(_too_deep()) from None
    # Now an escape is the only way to a lone surrogate: strings are checked one by one only
    # when the text has such an escape.
    _check_values(value, strings=SURROGATE_ESCAPE.search(text) is not None)
    return value


def nul_path(value: Any) -> tuple[str, ...] | None:
    """Where the first key or string holding U+0000 is (the keys and indexes leading to it;
    () for `value` itself), which PostgreSQL's text and jsonb cannot store; None when there
    is none."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return (*path, key)
                pending.append((child, (*path, key)))
        elif isinstance(item, list):
            pending.extend((child, (*path, str(index))) for index, child in enumerate(item))
    return None


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels"


def _shown(number: int) -> str:
    text = str(number)
    if len(text) <= SHOWN_NUMBER_CHARS:
        return text
    return f"{text[:SHOWN_NUMBER_CHARS]}… ({len(text)} digits)"


def _no_constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not JSON")


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Refused rather than merged: with a repeated key the data means two things.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise StrictJSONError(f"the key {repeated!r} appears more than once in an object")
    return result


def _check_values(value: Any, *, strings: bool) -> None:
    """Depth, numbers and (with `strings`) lone surrogates, walked without recursion; each
    container is looked at once, its scalars where they stand (the hot loop of a large
    body)."""
    pending = [([value], 0)]
    while pending:
        container, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise StrictJSONError(_too_deep())
        if type(container) is dict:
            if strings:
                for key in container:
                    _check_text(key)
            children = container.values()
        else:
            children = container
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, depth + 1))
            elif kind is int:
                if not -MAX_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:
                    raise StrictJSONError(f"the integer {_shown(child)} is {BEYOND}")
            elif kind is float:
                if not math.isfinite(child):  # json parses 1e400 as inf
                    raise StrictJSONError("a number is too large for a double (±1.8e308)")
            elif kind is str and strings:
                _check_text(child)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise StrictJSONError("a string holds a lone surrogate (\\ud800-\\udfff)") from None
