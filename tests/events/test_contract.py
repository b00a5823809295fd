"""The contract served over HTTP: one JSON Schema per event type, and the AsyncAPI document."""

import pytest
from jsonschema import Draft202012Validator

from events.types import EventType


@pytest.mark.parametrize("event_type", EventType.values)
def test_each_event_schema_is_served_and_is_a_strict_2020_12_schema(client, event_type):
    response = client.get(f"/api/v1/schemas/events/{event_type}.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    # Strict: the envelope and info refuse keys they do not name, and require the seed's keys
    assert schema["additionalProperties"] is False
    assert schema["properties"]["info"]["additionalProperties"] is False
    assert schema["required"] == [
        "messageType", "orgId", "requestedBy", "traceId", "branch", "eventId", "occurredAt", "info"
    ]  # fmt: skip
    assert schema["properties"]["info"]["required"][:2] == ["planId", "isTest"]


def test_an_unknown_event_type_has_no_schema(client):
    assert client.get("/api/v1/schemas/events/workQueueStatusUpdated.json").status_code == 404


def test_asyncapi_document_lists_the_outgoing_channels_with_their_schemas(client):
    document = client.get("/api/v1/asyncapi.json").json()
    assert document["asyncapi"] == "3.0.0"
    assert {name: channel["address"] for name, channel in document["channels"].items()} == {
        "planCreated": "healix.{orgId}.planCreated",
        "planUpdated": "healix.{orgId}.planUpdated",
        "formSubmitted": "healix.{orgId}.formSubmitted",
        "workQueueItemStatusUpdated": "healix.{orgId}.workQueueItemStatusUpdated",
        "inbound": "healix.{orgId}.inbound.{subject}",
    }
    outgoing = {n: c for n, c in document["channels"].items() if n != "inbound"}
    for name, channel in outgoing.items():
        assert set(channel["parameters"]) == {"orgId"}
        message = document["components"]["messages"][name]
        assert message["payload"]["schema"]["title"] == name
        assert message["payload"]["schemaFormat"] == "application/schema+json;version=draft-07"
        assert "$schema" not in message["payload"]["schema"]
        assert set(message["headers"]["properties"]) == {"Nats-Msg-Id", "Healix-Trace-Id"}
    # Every operation sends on a channel that exists
    for operation in document["operations"].values():
        assert operation["action"] == (
            "receive" if "inbound" in operation["channel"]["$ref"] else "send"
        )
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in document["channels"]
    # The inbound channel names its parameters, and its answer goes to Healix-Reply-To
    inbound = document["channels"]["inbound"]
    assert set(inbound["parameters"]) == {"orgId", "subject"}
    receive = document["operations"]["receiveInboundEvent"]
    assert receive["reply"]["address"]["location"] == "$message.header#/Healix-Reply-To"
    assert document["components"]["messages"]["inboundAnswer"]["payload"]["schema"]["oneOf"]
