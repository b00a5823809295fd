"""The tenancy matrix: every endpoint and method, used with organization A's key on
organization B's rows, answers 404 (or refuses B's references) and changes nothing of B's."""

import pytest

from healix.api.scopes import Scope
from tests.fixtures.api import ENDPOINTS, client_with_scopes

pytestmark = pytest.mark.django_db

OBJECT_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.names_an_object]


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: e.name)
def test_a_key_cannot_reach_another_organizations_object(endpoint, world, other_world):
    # Given B's state
    before = other_world.fingerprint()
    # When A's key (every scope) names B's object, with a body valid for B
    response = endpoint.call(world.client, other_world)
    # Then it is not there, and nothing of B's changed
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert other_world.fingerprint() == before


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: e.name)
def test_the_same_call_on_the_keys_own_object_works(endpoint, world, other_world):
    # (so the 404 above is tenancy, not a broken request)
    response = endpoint.call(world.client, world)
    assert response.status_code in (200, 201, 204), response.content


LISTS = {
    "/api/v1/plans/": lambda w: str(w.plan.pk),
    "/api/v1/form-assignments/": lambda w: str(w.assignment.pk),
    "/api/v1/work-queue-items/": lambda w: str(w.item.pk),
    "/api/v1/inbound/": lambda w: str(w.inbound.pk),
    "/api/v1/integrations/": lambda w: w.integration_id,
    "/api/v1/webhooks/": lambda w: str(w.webhook.pk),
    "/api/v1/webhooks/{}/deliveries/": lambda w: str(w.delivery.pk),
}


@pytest.mark.parametrize("path", LISTS, ids=str)
def test_a_list_shows_only_the_keys_organization(path, world, other_world):
    body = world.client.get(path.format(world.webhook.pk)).json()
    ids = [row["id"] for row in body["results"]]
    assert LISTS[path](world) in ids
    assert LISTS[path](other_world) not in ids


@pytest.mark.django_db(transaction=True)  # the feed shows committed events only
def test_the_event_feed_shows_only_the_keys_organization(world, other_world):
    events = world.client.get("/api/v1/events/").json()["results"]
    assert events and {e["event"]["orgId"] for e in events} == {world.organization.slug}


def test_a_plan_cannot_be_made_from_another_organizations_template_or_person(
    world, other_world, other_org
):
    before = other_world.fingerprint()
    # A's key naming B's patient
    response = world.client.post(
        "/api/v1/plans/",
        {"templateName": "sAI-ERComp", "userId": other_world.patient_id},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "#/userId", "detail": f"No user {other_world.patient_id} here."}
    ]
    # A's key naming B's patient as a role holder
    response = world.client.post(
        "/api/v1/plans/",
        {
            "templateName": "sAI-ERComp",
            "userId": world.patient_id,
            "roleAssignments": [{"roleId": "Nurse", "userId": other_world.patient_id}],
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/roleAssignments/0/userId"
    assert other_world.fingerprint() == before


def test_a_key_with_only_read_scopes_of_b_is_still_not_b(world, other_world, org):
    # Even a key with every scope acts only inside its own organization
    client = client_with_scopes(org, list(Scope.values))
    response = client.get(f"/api/v1/plans/{other_world.plan.pk}/")
    assert response.status_code == 404
