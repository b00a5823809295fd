"""The event catalog: each outgoing event type with the JSON Schema the API serves
(/api/v1/schemas/events/<type>.json, events/contract.py) and an example envelope made from
that schema, so an example can never drift from its contract (tests check each validates)."""

import re
import uuid
from typing import Any

from events.contract import event_schema
from events.types import EventType, subject_for

__all__ = ["catalog", "example_envelope"]

EXAMPLE_TIME = "2026-11-23T09:30:00Z"
EXAMPLE_DATE = "2026-11-23"
UUID_PATTERN_START = "^[0-9a-f]{8}"


def _example(schema: dict[str, Any], name: str, org_id: str, event_type: str) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0], name, org_id, event_type)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _example(value, key, org_id, event_type) for key, value in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [_example(items, name, org_id, event_type)] if items else []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.5, schema.get("minimum", 1.5))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, name, org_id, event_type)


def _string(schema: dict[str, Any], name: str, org_id: str, event_type: str) -> str:
    pattern = schema.get("pattern", "")
    if name == "messageType":
        return subject_for(org_id, event_type)
    if name == "orgId":
        return org_id
    if name == "traceId":
        return "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
    if schema.get("format") == "date-time" or name.endswith("At"):
        return EXAMPLE_TIME
    if schema.get("format") == "date":
        return EXAMPLE_DATE
    if pattern.startswith(UUID_PATTERN_START) or schema.get("format") == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"healix-example/{name}"))
    text = "example"[: schema.get("maxLength", 7)].ljust(schema.get("minLength", 0), "x")
    if pattern and not re.search(pattern, text):
        # A closed list written as a pattern, ^(status|riskStatus|...)$: its first word.
        first = re.match(r"^\^\(([A-Za-z]+)\|", pattern)
        text = first.group(1) if first else text
    return text


def example_envelope(event_type: str, org_id: str) -> dict[str, Any]:
    """An envelope of `event_type` for `org_id` with every member its schema names."""
    return _example(event_schema(event_type), "", org_id, event_type)


def catalog(org_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": event_type.value,
            "label": event_type.label,
            "description": event_schema(event_type.value).get("description", ""),
            "schema": event_schema(event_type.value),
            "example": example_envelope(event_type.value, org_id),
        }
        for event_type in EventType
    ]
