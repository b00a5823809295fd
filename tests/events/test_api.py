"""GET /api/v1/events/: the event log over HTTP, polled with `after`; committed events only,
each once, with filters; the public contract documents."""

import json

import pytest

from events.models import OutboxEvent
from plans import services

pytestmark = pytest.mark.django_db(transaction=True)  # the feed shows committed events only


def poll(client, query=""):
    """Every page until caught up: (envelopes, the cursor to continue from)."""
    events, url = [], f"/api/v1/events/?{query}"
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        events += [row["event"] for row in page["results"]]
        if page["caughtUp"]:
            return events, page["cursor"]
        url = page["next"]


def test_a_partner_catches_up_then_gets_only_what_is_new(world, actor):
    # Given the events so far (the world's plan was created)
    first, cursor = poll(world.client, "limit=1")
    assert [e["messageType"] for e in first] == ["healix.hrh.planCreated"]
    assert json.loads(OutboxEvent.objects.get(event_id=first[0]["eventId"]).payload) == first[0]
    # When more happen
    services.update_plan(actor=actor, plan=world.plan, risk_status="high")
    services.change_work_queue_item_status(actor=actor, item=world.item, status="done")
    # Then the next poll from the cursor gets exactly those, in order
    new, cursor = poll(world.client, f"after={cursor}&limit=1")
    assert [e["messageType"].rsplit(".", 1)[1] for e in new] == [
        "planUpdated",
        "workQueueItemStatusUpdated",
    ]
    # And nothing again after that
    assert poll(world.client, f"after={cursor}")[0] == []


def test_filters(world, actor, other_world):
    services.update_plan(actor=actor, plan=world.plan, risk_status="high")
    only, _ = poll(world.client, "type=planUpdated")
    assert [e["info"]["planId"] for e in only] == [str(world.plan.pk)]
    by_plan, _ = poll(world.client, f"planId={world.plan.pk}")
    assert len(by_plan) == 2
    trace = only[0]["traceId"]
    assert [e["eventId"] for e in poll(world.client, f"traceId={trace}")[0]] == [only[0]["eventId"]]
    assert poll(world.client, "since=2999-01-01T00:00:00Z")[0] == []
    assert poll(world.client, f"planId={other_world.plan.pk}")[0] == []


@pytest.mark.parametrize(
    "query",
    ["after=nope", "after=1", "type=planDeleted", "planId=x", "limit=0", "limit=501", "since=x"],
)
def test_bad_parameters_are_a_400_naming_them(world, query):
    response = world.client.get(f"/api/v1/events/?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.json()["errors"][0]["pointer"] == f"#/{name}"


def test_the_contract_documents_are_public(client):
    schema = client.get("/api/v1/schemas/events/planCreated.json")
    assert schema.status_code == 200 and schema["Content-Type"] == "application/schema+json"
    assert schema.json()["title"] == "planCreated"
    assert client.get("/api/v1/schemas/events/nope.json").status_code == 404
    assert client.get("/api/v1/asyncapi.json").json()["asyncapi"].startswith("3.")


def test_next_keeps_the_query_and_moves_only_the_cursor(world, actor):
    services.update_plan(actor=actor, plan=world.plan, risk_status="high")
    page = world.client.get("/api/v1/events/?limit=1&after=0.0&type=planCreated").json()
    assert page["next"] == (
        f"http://testserver/api/v1/events/?limit=1&after={page['cursor']}&type=planCreated"
    )
