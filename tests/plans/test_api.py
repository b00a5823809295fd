"""/api/v1/plans/, /api/v1/form-assignments/, /api/v1/work-queue-items/: writes go through the
services (same events as the admin, actor = the key's service account), errors per field."""

import json

import pytest

from events.models import OutboxEvent
from healix.models import OrganizationAPIKey
from plans.models import FormAssignmentStatus, Plan, WorkQueueItem

pytestmark = pytest.mark.django_db


def send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def pointers(response) -> dict[str, str]:
    return {error["pointer"]: error["detail"] for error in response.json()["errors"]}


def service_account_id(world) -> str:
    return str(OrganizationAPIKey.objects.get(name="hrh-all").user_id)


def last_event(organization, event_type) -> dict:
    row = OutboxEvent.objects.filter(organization=organization, event_type=event_type).first()
    return json.loads(row.payload)


# --- plans ---------------------------------------------------------------------------------


def test_creating_a_plan_emits_plan_created_by_the_keys_account(world, nurse):
    response = send(
        world.client,
        "post",
        "/api/v1/plans/",
        {
            "templateName": "sAI-ERComp",
            "userId": world.patient_id,
            "roleAssignments": [{"roleId": "Nurse", "userId": str(nurse.pk)}],
            "title": "From the API",
            "customFields": {"score": 4, "triage": "amber"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/plans/{body['id']}/"
    assert body["title"] == "From the API" and body["status"] == "OPEN"
    assert body["customFields"] == {"score": 4, "triage": "amber"}
    assert sorted(r["roleId"] for r in body["roleAssignments"]) == ["Nurse", "Patient"]
    event = last_event(world.organization, "planCreated")
    assert event["info"]["planId"] == body["id"]
    assert event["requestedBy"] == service_account_id(world)


def test_a_plan_with_bad_values_is_refused_field_by_field(world):
    response = send(
        world.client,
        "post",
        "/api/v1/plans/",
        {
            "templateName": "sAI-ERComp",
            "userId": world.patient_id,
            "roleAssignments": [{"roleId": "Surgeon", "userId": world.patient_id}],
            "customFields": {"triage": "purple"},
        },
    )
    assert response.status_code == 400
    assert "#/roleAssignments" in pointers(response)
    assert "Surgeon" in pointers(response)["#/roleAssignments"]
    response = send(
        world.client,
        "post",
        "/api/v1/plans/",
        {"templateName": "nope", "userId": "not-a-uuid", "colour": "red"},
    )
    assert response.status_code == 400
    assert set(pointers(response)) == {"#/colour"}  # unknown members are named first
    response = send(world.client, "post", "/api/v1/plans/", {"templateName": "nope"})
    assert set(pointers(response)) == {"#/userId"}
    response = send(
        world.client, "post", "/api/v1/plans/", {"templateName": "nope", "userId": world.patient_id}
    )
    assert pointers(response) == {"#/templateName": "No template nope here."}


def test_patching_a_plan_goes_through_update_plan(world):
    url = f"/api/v1/plans/{world.plan.pk}/"
    response = send(
        world.client,
        "patch",
        url,
        {"riskStatus": "high", "customFields": {"score": 7}, "endDate": "2099-01-01T00:00:00Z"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["riskStatus"] == "high" and body["customFields"] == {"score": 7}
    assert body["endDate"] == "2099-01-01T00:00:00Z"
    changes = last_event(world.organization, "planUpdated")["info"]["changes"]
    assert {c["field"] for c in changes} == {"riskStatus", "endDate", "customFields.score"}
    # Closing it
    assert send(world.client, "patch", url, {"status": "CLOSED"}).json()["status"] == "CLOSED"


def test_a_bad_patch_changes_nothing_and_names_the_field(world):
    url = f"/api/v1/plans/{world.plan.pk}/"
    before = world.fingerprint()
    response = send(world.client, "patch", url, {"endDate": "1999-01-01T00:00:00Z"})
    assert response.status_code == 400, response.content
    assert pointers(response) == {"#/endDate": "endDate cannot be before startDate."}
    response = send(world.client, "patch", url, {"status": "PAUSED"})
    assert "#/status" in pointers(response)
    response = send(world.client, "patch", url, {"customFields": {"score": "many"}})
    assert "#/customFields" in pointers(response)
    response = send(world.client, "patch", url, {"customFields": {"score": "\u0000"}})
    assert response.status_code == 400
    response = send(world.client, "patch", url, ["not", "an", "object"])
    assert response.status_code == 400
    assert world.fingerprint() == before


def test_plans_filter_and_page_with_a_cursor(world):
    for title in ("second", "third"):
        send(
            world.client,
            "post",
            "/api/v1/plans/",
            {"templateName": "sAI-ERComp", "userId": world.patient_id, "title": title},
        )
    seen, url = [], "/api/v1/plans/?limit=1&status=OPEN"
    while url:
        page = world.client.get(url).json()
        seen += [plan["title"] for plan in page["results"]]
        url = page["next"]
    assert seen == ["third", "second", "API"]
    bad = world.client.get("/api/v1/plans/?status=PAUSED")
    assert bad.status_code == 400 and "#/status" in pointers(bad)
    assert world.client.get("/api/v1/plans/?userId=nope").status_code == 400
    assert world.client.get("/api/v1/plans/?cursor=garbage").status_code == 404
    only = world.client.get(f"/api/v1/plans/?templateName=sAI-ERComp&userId={world.patient_id}")
    assert len(only.json()["results"]) == 3
    assert Plan.objects.filter(organization=world.organization).count() == 3


# --- form assignments ----------------------------------------------------------------------


def test_submitting_a_form_emits_form_submitted(world):
    url = f"/api/v1/form-assignments/{world.assignment.pk}/submit/"
    response = send(world.client, "post", url, {"data": {"age": 54, "symptoms": ["pain"]}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == FormAssignmentStatus.SUBMITTED
    assert body["submission"]["data"] == {"age": 54, "symptoms": ["pain"]}
    assert body["submission"]["submittedBy"] == service_account_id(world)
    event = last_event(world.organization, "formSubmitted")
    assert event["info"]["formAssignmentId"] == str(world.assignment.pk)
    # A second submission is refused
    again = send(world.client, "post", url, {"data": {"age": 1}})
    assert again.status_code == 400 and "already submitted" in again.json()["detail"]


def test_form_data_errors_point_at_the_field(world):
    url = f"/api/v1/form-assignments/{world.assignment.pk}/submit/"
    response = send(world.client, "post", url, {"data": {"age": "old", "symptoms": ["itch"]}})
    assert response.status_code == 400
    assert {"#/data/age", "#/data/symptoms"} <= set(pointers(response))
    assert send(world.client, "post", url, {}).status_code == 400
    assert world.client.get(url).status_code == 405


def test_form_assignments_list_and_read(world):
    listing = world.client.get(f"/api/v1/form-assignments/?planId={world.plan.pk}").json()
    assert [a["id"] for a in listing["results"]] == [str(world.assignment.pk)]
    one = world.client.get(f"/api/v1/form-assignments/{world.assignment.pk}/").json()
    assert one["formName"] == "intake" and one["submission"] is None
    none = world.client.get("/api/v1/form-assignments/?status=SUBMITTED").json()
    assert none["results"] == []


# --- work queue items ----------------------------------------------------------------------


def test_patching_an_item_changes_status_and_attributes_together(world):
    url = f"/api/v1/work-queue-items/{world.item.pk}/"
    response = send(
        world.client,
        "patch",
        url,
        {"status": "in_service", "priority": 3, "serviceLocation": "Window 1", "queuePosition": 2},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["priority"], body["serviceLocation"], body["queuePosition"]) == (
        "in_service",
        3,
        "Window 1",
        2,
    )
    info = last_event(world.organization, "workQueueItemStatusUpdated")["info"]
    assert (info["status"], info["oldStatus"]) == ("in_service", "waiting")
    assert (
        send(world.client, "patch", url, {"serviceLocation": None}).json()["serviceLocation"]
        is None
    )


def test_a_bad_item_patch_changes_nothing(world):
    url = f"/api/v1/work-queue-items/{world.item.pk}/"
    before = world.fingerprint()
    # A good status with a bad location: neither happens
    response = send(world.client, "patch", url, {"status": "done", "serviceLocation": "Moon"})
    assert response.status_code == 400 and "#/serviceLocation" in pointers(response)
    response = send(world.client, "patch", url, {"status": "gone"})
    assert "#/status" in pointers(response)
    response = send(world.client, "patch", url, {"queuePosition": -1})
    assert "#/queuePosition" in pointers(response)
    response = send(world.client, "patch", url, {"priority": True})
    assert response.status_code == 400
    assert world.fingerprint() == before
    assert WorkQueueItem.objects.get(pk=world.item.pk).status.status_id == "waiting"


def test_work_queue_items_filter(world):
    items = world.client.get("/api/v1/work-queue-items/?workQueueName=triage&status=waiting")
    assert [i["id"] for i in items.json()["results"]] == [str(world.item.pk)]
    assert world.client.get("/api/v1/work-queue-items/?status=done").json()["results"] == []
