"""GET /api/v1/integrations/: the subjects a partner may send, with their JSON Schemas."""

import pytest

pytestmark = pytest.mark.django_db


def test_integrations_list_their_subject_schema_and_where_to_send(world):
    listing = world.client.get("/api/v1/integrations/").json()["results"]
    [definition] = listing
    assert definition["subject"] == "aiEngineTimeSlot"
    assert definition["templateName"] == "sAI-ERComp"
    assert definition["fields"] == [{"name": "timeSlot", "type": "string", "required": True}]
    assert definition["schema"]["properties"]["timeSlot"] == {"type": "string"}
    assert definition["natsSubject"] == "healix.hrh.inbound.aiEngineTimeSlot"
    assert definition["restPath"] == "/api/v1/inbound/aiEngineTimeSlot/"
    one = world.client.get(f"/api/v1/integrations/{definition['id']}/").json()
    assert one == definition
    assert world.client.get("/api/v1/integrations/?subject=other").json()["results"] == []
    assert world.client.get("/api/v1/integrations/999999/").status_code == 404
