"""The inbound side of the AsyncAPI document (events/contract.py merges it in): partners send
JSON objects on healix.{orgId}.inbound.{subject}; Healix answers on Healix-Reply-To."""

from typing import Any

from django.conf import settings

from bus.inbound import REPLY_HEADER
from healix.observability.tracing import TRACE_HEADER
from integrations.inbound.schemas import JSON_SCHEMA_DIALECT, ROUTING_SCHEMA

__all__ = ["INBOUND_CHANNEL", "add_inbound"]

INBOUND_CHANNEL = "inbound"

INBOUND_PAYLOAD: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "inboundEvent",
    "description": (
        "The integration's fields (as its plan templates define them; see the template "
        "editor) plus planId and/or userId naming whom it is for."
    ),
    "type": "object",
    "properties": {"planId": ROUTING_SCHEMA, "userId": ROUTING_SCHEMA},
    "anyOf": [{"required": ["planId"]}, {"required": ["userId"]}],
}
ANSWER_PAYLOAD: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "inboundAnswer",
    "description": "What POST /api/v1/inbound/<subject>/ would answer: the outcome or the "
    "RFC 9457 problem details.",
    "oneOf": [
        {
            "type": "object",
            "required": ["id", "status", "duplicateOf"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "status": {"enum": ["accepted", "duplicate"]},
                "duplicateOf": {"type": ["string", "null"], "format": "uuid"},
            },
        },
        {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "pointer": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                    },
                },
                "id": {"type": "string", "format": "uuid"},
            },
        },
    ],
}


def add_inbound(channels: dict, operations: dict, messages: dict) -> None:
    """Add the inbound channel, its receive operation (with the reply) and its messages (their
    payloads plain JSON Schemas: events/contract.py makes them AsyncAPI payloads)."""
    messages["inboundEvent"] = {
        "name": "inboundEvent",
        "title": "Inbound integration event",
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                TRACE_HEADER: {"type": "string", "description": "Becomes the event's traceId."},
                REPLY_HEADER: {
                    "type": "string",
                    "description": "An inbox for Healix's answer (JetStream keeps no reply "
                    "subject; a plain request gets only JetStream's stored ack): "
                    "_INBOX.<orgId>.<key prefix>.<id>, of the organization the message is "
                    "for. Any other subject gets no answer.",
                },
            },
        },
        "payload": INBOUND_PAYLOAD,
    }
    messages["inboundAnswer"] = {
        "name": "inboundAnswer",
        "title": "Answer to an inbound event",
        "contentType": "application/json",
        "payload": ANSWER_PAYLOAD,
    }
    channels[INBOUND_CHANNEL] = {
        "address": "healix.{orgId}.inbound.{subject}",
        "title": "Inbound integration events",
        "description": (
            f"Stored by the organization's stream, {settings.HEALIX_INBOUND_STREAM}_<orgId>; "
            "Healix keeps the first message of the same data only and counts later copies."
        ),
        "parameters": {
            "orgId": {"description": "The organization id, e.g. hrh."},
            "subject": {"description": "An integration subject, e.g. aiEngineTimeSlot."},
        },
        "messages": {"inboundEvent": {"$ref": "#/components/messages/inboundEvent"}},
    }
    operations["receiveInboundEvent"] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{INBOUND_CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{INBOUND_CHANNEL}/messages/inboundEvent"}],
        "reply": {
            "address": {"location": f"$message.header#/{REPLY_HEADER}"},
            "messages": [{"$ref": "#/components/messages/inboundAnswer"}],
        },
    }
