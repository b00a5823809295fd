"""POST /api/v1/bus-credentials/: how the calling key connects to the NATS bus."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bus.credentials import bus_credentials

__all__ = ["BusCredentialsView"]

CREDENTIALS_SCHEMA = {
    "type": "object",
    "required": [
        "url",
        "authentication",
        "organization",
        "inboxPrefix",
        "jetStreamApiPrefix",
        "publish",
        "subscribe",
        "consumer",
        "revocationSeconds",
        "limits",
        "example",
    ],
    "properties": {
        "url": {"type": "string", "description": "The NATS server to connect to."},
        "authentication": {
            "type": "object",
            "description": "Present the API key itself as the connection's token.",
            "properties": {"method": {"type": "string"}, "token": {"type": "string"}},
        },
        "organization": {"type": "string", "description": "The orgId of every subject."},
        "inboxPrefix": {
            "type": "string",
            "description": "Reply subjects must start with it (nats-py: inbox_prefix).",
        },
        "jetStreamApiPrefix": {
            "type": "string",
            "description": "Where the JetStream API is (nats-py: jetstream(prefix=...)).",
        },
        "publish": {"type": "array", "items": {"type": "string"}},
        "subscribe": {"type": "array", "items": {"type": "string"}},
        "consumer": {
            "type": ["object", "null"],
            "description": "The key's durable pull consumer of its events (events:read).",
            "properties": {
                "stream": {"type": "string"},
                "name": {"type": "string"},
                "filterSubject": {"type": "string"},
            },
        },
        "revocationSeconds": {
            "type": "number",
            "description": "A revoked key's open connection is closed within this time.",
        },
        "limits": {
            "type": "object",
            "description": "What the key may hold on the bus (docs/bus-access.md, Limits): "
            "connections at once (more are refused), subscriptions per connection and message "
            "size (the server closes a connection past them), events delivered and not yet "
            "acked.",
            "properties": {
                "connections": {"type": "integer"},
                "subscriptionsPerConnection": {"type": "integer"},
                "payloadBytes": {"type": "integer"},
                "unackedEvents": {"type": "integer"},
            },
        },
        "example": {"type": "string", "description": "A ready-to-run nats-py program."},
    },
}


class BusCredentialsView(APIView):
    """Needs inbound:write or events:read: what the connection may do follows the key's scopes."""

    @extend_schema(
        operation_id="bus_credentials",
        summary="How to connect to the NATS bus with this API key",
        request=None,
        responses={200: CREDENTIALS_SCHEMA},
    )
    def post(self, request: Request) -> Response:
        credentials = bus_credentials(request.auth)
        if credentials is None:
            raise PermissionDenied(
                "This API key has neither inbound:write nor events:read, so it cannot use the bus."
            )
        return Response(credentials)
