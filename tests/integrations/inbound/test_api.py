"""POST /api/v1/inbound/<subject>/ and the inbound event list and detail: statuses, RFC 9457
problem details, API keys, tenancy."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from healix.models import OrganizationAPIKey
from integrations.models import InboundEvent
from tests.fixtures.integrations import key_client, make_api_key, post_json

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"
PROBLEM = "application/problem+json"


def slot(plan, value="2026-01-05T10:00") -> dict:
    return {"planId": str(plan.pk), "timeSlot": value}


def test_first_copy_accepted_then_duplicates(api, plan):
    first = post_json(api, SUBJECT, slot(plan))
    second = post_json(
        api, SUBJECT, json.dumps({"timeSlot": slot(plan)["timeSlot"], "planId": str(plan.pk)})
    )
    assert (first.status_code, second.status_code) == (202, 202)
    event_id = first.json()["id"]
    assert first.json() == {"id": event_id, "status": "accepted", "duplicateOf": None}
    assert second.json() == {"id": event_id, "status": "duplicate", "duplicateOf": event_id}
    assert InboundEvent.objects.get().duplicate_count == 1


def test_traceparent_becomes_the_events_trace_id(api, plan):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = post_json(
        api, SUBJECT, slot(plan), headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert response["Healix-Trace-Id"] == trace_id
    assert InboundEvent.objects.get().trace_id == trace_id


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


@pytest.mark.parametrize(
    "body",
    [
        '{"timeSlot": "x", "n": 123456789012345678901234567890}',
        '{"timeSlot": "x", "n": 1e400}',
        '{"timeSlot": "\\ud800"}',
        "[" * 500 + "]" * 500,
        '{"timeSlot": ' + "[" * 100 + "]" * 100 + "}",
    ],
    ids=["huge integer", "infinite number", "lone surrogate", "deep array", "deep value"],
)
def test_json_outside_i_json_is_400_not_500(api, body):
    # Canonical hashing (RFC 8785) assumes I-JSON: anything outside it is refused up front
    answer = problem(post_json(api, SUBJECT, body), 400)
    assert answer["type"] == "https://healix.me/problems/malformed-json"
    assert InboundEvent.objects.get(pk=answer["id"]).status == "rejected"


def test_malformed_json_is_400(api):
    body = problem(post_json(api, SUBJECT, "{oops"), 400)
    assert body["type"] == "https://healix.me/problems/malformed-json"
    assert body["errors"][0]["pointer"] == "#"
    assert InboundEvent.objects.get(pk=body["id"]).status == "rejected"


def test_schema_violations_are_400_with_one_entry_per_field(api, plan, template):
    template.integrations.get().fields.create(name="count", field_type="integer", position=1)
    body = problem(post_json(api, SUBJECT, {"planId": str(plan.pk), "count": "two"}), 400)
    assert body["type"] == "https://healix.me/problems/invalid-payload"
    assert body["errors"] == [
        {"pointer": "#/count", "detail": "'two' is not of type 'integer'"},
        {"pointer": "#/timeSlot", "detail": "This field is required."},
    ]


def test_unknown_subject_is_404(api, plan):
    body = problem(post_json(api, "nothingHere", slot(plan)), 404)
    assert body["type"] == "https://healix.me/problems/unknown-subject"


def test_payload_over_the_limit_is_413(api, plan, settings):
    settings.HEALIX_INBOUND_MAX_BYTES = 1024
    body = problem(post_json(api, SUBJECT, slot(plan, "x" * 2000)), 413)
    assert "the limit is 1024" in body["detail"]


def test_wrong_content_type_is_415(api, plan):
    response = api.post(f"/api/v1/inbound/{SUBJECT}/", data="timeSlot=x", content_type="text/plain")
    problem(response, 415)
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer abc", "Api-Key ", "Api-Key nope.nope", "Api-Key {prefix}.wrongsecret"],
)
def test_missing_or_bad_key_is_401(client, org, plan, authorization):
    key = make_api_key(org)
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(prefix=key.split(".")[0])
    response = post_json(client, SUBJECT, slot(plan), headers=headers)
    body = problem(response, 401)
    assert response["WWW-Authenticate"] == "Api-Key"
    assert body["type"] == "https://healix.me/problems/unauthorized"
    assert not InboundEvent.objects.exists()


def test_the_scheme_is_case_insensitive(client, org, plan):
    key = make_api_key(org)
    headers = {"Authorization": f"api-key {key}"}
    response = post_json(client, SUBJECT, slot(plan), headers=headers)
    assert response.status_code == 202, response.content


def test_revoked_and_expired_keys_are_401(org, plan):
    revoked_key = make_api_key(org, "old")
    OrganizationAPIKey.objects.filter(name="old").update(revoked=True)
    expired_key = make_api_key(org, "expired", expiry_date=timezone.now() - timedelta(seconds=1))
    for key in (revoked_key, expired_key):
        problem(post_json(key_client(key), SUBJECT, slot(plan)), 401)


def test_list_filters_and_detail(api, plan):
    accepted = post_json(api, SUBJECT, slot(plan)).json()["id"]
    rejected = post_json(api, SUBJECT, "{bad").json()["id"]
    listed = api.get("/api/v1/inbound/").json()
    assert {row["id"] for row in listed["results"]} == {accepted, rejected}
    only_rejected = api.get("/api/v1/inbound/", {"status": "rejected"}).json()["results"]
    assert [row["id"] for row in only_rejected] == [rejected]
    assert api.get("/api/v1/inbound/", {"subject": "other"}).json()["results"] == []
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/inbound/", {"since": future}).json()["results"] == []
    problem(api.get("/api/v1/inbound/", {"since": "yesterday"}), 400)
    problem(api.get("/api/v1/inbound/", {"status": "weird"}), 400)
    detail = api.get(f"/api/v1/inbound/{rejected}/").json()
    assert detail["status"] == "rejected" and detail["errors"][0]["pointer"] == "#"
    assert detail["rawBody"] == "{bad" and detail["duplicateCount"] == 0
    problem(api.get(f"/api/v1/inbound/{uuid.uuid4()}/"), 404)
    problem(api.get("/api/v1/inbound/not-an-id/"), 404)


def test_a_key_cannot_post_to_or_read_another_organizations_events(
    api, other_api, plan, other_plan
):
    # Given an event of each organization
    ours = post_json(api, SUBJECT, slot(plan)).json()["id"]
    theirs = post_json(other_api, SUBJECT, slot(other_plan)).json()["id"]
    # When hrh's key reads the other organization's event, or lists
    problem(api.get(f"/api/v1/inbound/{theirs}/"), 404)
    assert [row["id"] for row in api.get("/api/v1/inbound/").json()["results"]] == [ours]
    # And when hrh's key posts data naming the other organization's plan
    body = problem(post_json(api, SUBJECT, slot(other_plan, "later")), 400)
    # Then it is refused as an unknown plan, stored in hrh only; theirs is untouched
    assert body["errors"][0]["detail"] == f"No plan {other_plan.pk} here."
    assert InboundEvent.objects.get(pk=body["id"]).organization == plan.organization
    assert InboundEvent.objects.get(pk=theirs).duplicate_count == 0


def test_create_api_key_command_prints_a_working_key(org, plan):
    out = StringIO()
    call_command(
        "create_api_key",
        "--org",
        "hrh",
        "--name",
        "scheduler",
        "--scope",
        "inbound:write",
        stdout=out,
    )
    key = out.getvalue().strip()
    assert post_json(key_client(key), SUBJECT, slot(plan)).status_code == 202
    stored = OrganizationAPIKey.objects.get(name="scheduler")
    assert key not in (stored.hashed_key, stored.id) and stored.organization == org
    with pytest.raises(CommandError, match="No organization nope"):
        call_command("create_api_key", "--org", "nope", "--name", "x", "--scope", "all")


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/v2/inbound/x/", "/api/"])
def test_an_unknown_api_url_is_a_problem_not_an_html_page(client, url):
    body = problem(client.get(url), 404)
    assert body["type"] == "https://healix.me/problems/not-found"


def test_a_malformed_user_id_is_named_once(api, plan):
    body = problem(post_json(api, SUBJECT, {"userId": "nope", "timeSlot": "x"}), 400)
    assert [error["pointer"] for error in body["errors"]] == ["#/userId"]
