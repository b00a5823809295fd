"""Custom headers of an HTTP integration: validated names and values, no header injection, and
values shown masked once stored (partners put credentials there)."""

import re
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MASK",
    "MAX_CUSTOM_HEADERS",
    "RESERVED_HEADERS",
    "custom_header_problems",
    "keep_masked_values",
    "masked_headers",
    "same_origin",
]

# RFC 9110 field-name: a token.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}\Z")
# Visible ASCII, spaces and tabs; no CR, LF or NUL (which would start a new header line).
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]{0,4096}\Z")
# Headers the delivery sets itself (or HTTP itself needs): a custom one must not replace them.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "user-agent",
        "healix-trace-id",
        "traceparent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
# A handful is what partners need (an API key, a tenant id); more is a mistake.
MAX_CUSTOM_HEADERS = 20
# What a stored value is shown as: nothing of it, since the last characters of a short
# credential are most of it. Not ASCII, so it can never be stored as a value: sent back, it
# means "keep the stored value of this header".
MASK = "\u2022\u2022\u2022\u2022"


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    """The names, every value masked."""
    return dict.fromkeys(headers, MASK)


def same_origin(url: str, other: str) -> bool:
    """Whether both URLs lead to the same scheme, host and port."""
    a, b = urlsplit(url), urlsplit(other)
    try:
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:  # a port that is no number: not the same, and refused elsewhere
        return False


def keep_masked_values(given: Any, stored: dict[str, str], *, moved: bool = False) -> Any:
    """`given` with each MASK value replaced by the stored value of that header (names match
    case-insensitively, as HTTP's do). Nothing is kept when the URL `moved` to another origin:
    the stored values would go to a receiver they were never given for (and so be read there).
    A MASK left over is refused by custom_header_problems()."""
    if not isinstance(given, dict):
        return given
    kept = {} if moved else {name.lower(): value for name, value in stored.items()}
    return {
        name: kept.get(name.lower(), value) if value == MASK else value
        for name, value in given.items()
    }


def custom_header_problems(headers: Any) -> list[str]:
    """What is wrong with `headers` (a JSON object of name -> text value); [] when nothing."""
    if not isinstance(headers, dict):
        return ["Give the headers as a JSON object of name: value."]
    problems = []
    if len(headers) > MAX_CUSTOM_HEADERS:
        problems.append(f"At most {MAX_CUSTOM_HEADERS} custom headers.")
    seen: set[str] = set()
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            problems.append(f"{name!r} is not a valid header name.")
            continue
        lowered = name.lower()
        if lowered in RESERVED_HEADERS:
            problems.append(f"{name} is set by Healix and cannot be replaced.")
        if lowered in seen:
            problems.append(f"{name} is given twice.")
        seen.add(lowered)
        if value == MASK:
            problems.append(
                f"Give the value of {name}: a masked value keeps the stored one only while the "
                "URL stays on the same host."
            )
        elif not isinstance(value, str) or not HEADER_VALUE.match(value):
            problems.append(
                f"The value of {name} must be text without line breaks or control characters."
            )
    return problems
