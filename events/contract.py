"""The published contract of the outgoing events: one JSON Schema per type, and the AsyncAPI
document of the bus built from them."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator

from events.types import SUBJECT_PREFIX, EventType
from healix.observability.tracing import TRACE_HEADER
from integrations.inbound.contract import add_inbound

__all__ = ["asyncapi_document", "asyncapi_payload", "envelope_errors", "event_schema"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# AsyncAPI 3.0 names JSON Schema payloads by draft-07 (2020-12 is not among its predefined
# formats, and tools reject unknown ones). Our schemas use only keywords both drafts share, so
# the document embeds them as draft-07 (without their 2020-12 "$schema"), while the files served
# under /api/v1/schemas/events/ stay draft 2020-12.
ASYNCAPI_SCHEMA_FORMAT = "application/schema+json;version=draft-07"


def asyncapi_payload(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema as an AsyncAPI 3.0 multi-format payload."""
    embedded = {key: value for key, value in schema.items() if key != "$schema"}
    return {"schemaFormat": ASYNCAPI_SCHEMA_FORMAT, "schema": embedded}


@cache
def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of `event_type` (a KeyError for an unknown type)."""
    EventType(event_type)  # refuses unknown names before touching the file system
    return json.loads((SCHEMA_DIR / f"{event_type}.json").read_text())


@cache
def _validator(event_type: str) -> Draft202012Validator:
    schema = event_schema(event_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def envelope_errors(envelope: Any) -> list[str]:
    """Every way `envelope` breaks its type's schema (empty when it validates)."""
    message_type = envelope.get("messageType", "") if isinstance(envelope, dict) else ""
    event_type = message_type.rsplit(".", 1)[-1]
    if event_type not in EventType.values:
        return [f"messageType {message_type!r} names no known event type."]
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in _validator(event_type).iter_errors(envelope)
    ]
    expected = f"{SUBJECT_PREFIX}.{envelope.get('orgId')}.{event_type}"
    if message_type != expected:
        errors.append(f"messageType {message_type!r} does not match orgId (expected {expected}).")
    return errors


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0: Healix sends each event type on healix.{orgId}.<type>, and receives
    inbound events on healix.{orgId}.inbound.{subject}."""
    channels, operations, messages = {}, {}, {}
    for event_type in EventType:
        name = event_type.value
        messages[name] = {
            "name": name,
            "title": event_type.label,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "The eventId; JetStream drops a re-publish within the "
                        "stream's duplicate window.",
                    },
                    TRACE_HEADER: {"type": "string", "description": "The envelope's traceId."},
                },
            },
            "payload": event_schema(name),
        }
        channels[name] = {
            "address": f"{SUBJECT_PREFIX}.{{orgId}}.{name}",
            "title": event_type.label,
            "parameters": {"orgId": {"description": "The organization id, e.g. hrh."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"send{name[0].upper()}{name[1:]}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    add_inbound(channels, operations, messages)  # integrations/inbound/contract.py
    for message in messages.values():
        message["payload"] = asyncapi_payload(message["payload"])
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Healix integration bus",
            "version": "1.0.0",
            "description": (
                "System events Healix publishes to NATS JetStream (stream "
                f"{settings.HEALIX_EVENTS_STREAM}). Each message is stored once per eventId. "
                "Inbound integration events partners publish (one stream per organization, "
                f"{settings.HEALIX_INBOUND_STREAM}_<orgId>)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
