"""Custom headers of an HTTP integration: validated names and values, no header injection."""

import re
from typing import Any

__all__ = ["MAX_CUSTOM_HEADERS", "RESERVED_HEADERS", "custom_header_problems"]

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
        if not isinstance(value, str) or not HEADER_VALUE.match(value):
            problems.append(
                f"The value of {name} must be text without line breaks or control characters."
            )
    return problems
