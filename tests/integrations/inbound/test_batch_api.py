"""POST /api/v1/inbound/<subject>/batch/: per-event results in order, each the single POST's
answer; duplicates inside a batch and across batches; valid and invalid events mixed; NDJSON;
what refuses a batch whole; limits; idempotency. (Tenancy: tests/security/test_batch_inbound.py.)"""

import json

import pytest

from integrations.models import InboundEvent
from tests.fixtures.integrations import post_json

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"
URL = f"/api/v1/inbound/{SUBJECT}/batch/"
PROBLEM = "application/problem+json"
TYPES = "https://healix.me/problems/"


def slot(plan, value="2026-01-05T10:00") -> dict:
    return {"planId": str(plan.pk), "timeSlot": value}


def post_batch(client, body, content_type="application/json", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, **extra)


def results(response) -> list[dict]:
    assert response.status_code == 207, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["results"]


def refused(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == TYPES + slug
    assert not InboundEvent.objects.exists()
    return body


def test_each_event_answers_as_the_single_post_does_in_order(api, plan):
    # Given a batch: new data, the same data again (keys reordered), other new data
    first, second = slot(plan, "a"), slot(plan, "b")
    batch = [first, dict(reversed(first.items())), second]
    # When it is posted
    answers = results(post_batch(api, batch))
    # Then the first copy is accepted, the second is its duplicate, the third is accepted
    one, two = answers[0]["id"], answers[2]["id"]
    assert answers == [
        {"id": one, "status": "accepted", "duplicateOf": None},
        {"id": one, "status": "duplicate", "duplicateOf": one},
        {"id": two, "status": "accepted", "duplicateOf": None},
    ]
    assert InboundEvent.objects.get(pk=one).duplicate_count == 1
    assert InboundEvent.objects.get(pk=two).source == "rest"
    # And the single POST of the same data now answers duplicate of the batch's event
    assert post_json(api, SUBJECT, second).json()["duplicateOf"] == two


def test_duplicates_across_batches_and_with_the_single_post(api, plan):
    single = post_json(api, SUBJECT, slot(plan, "early")).json()["id"]
    first = results(post_batch(api, [slot(plan, "a"), slot(plan, "early")]))
    again = results(post_batch(api, [slot(plan, "a")]))
    assert first[1] == {"id": single, "status": "duplicate", "duplicateOf": single}
    assert again == [{"id": first[0]["id"], "status": "duplicate", "duplicateOf": first[0]["id"]}]
    assert InboundEvent.objects.count() == 2


def test_valid_and_invalid_events_mixed(api, plan):
    # Given valid events around an invalid one and a non-object
    batch = [slot(plan, "a"), {"planId": str(plan.pk)}, "just text", slot(plan, "b")]
    # When they are posted together
    answers = results(post_batch(api, batch))
    # Then the valid ones are accepted and each invalid one carries the single POST's problem
    assert [answer["status"] for answer in answers] == ["accepted", 400, 400, "accepted"]
    missing, text = answers[1], answers[2]
    single = post_json(api, SUBJECT, {"planId": str(plan.pk)}).json()
    assert missing == {**single, "id": missing["id"]}
    assert missing["type"] == TYPES + "invalid-payload"
    assert missing["errors"] == [{"pointer": "#/timeSlot", "detail": "This field is required."}]
    assert text["errors"] == [{"pointer": "#", "detail": "The payload must be a JSON object."}]
    # And each rejection is stored as the single POST stores one
    stored = InboundEvent.objects.get(pk=missing["id"])
    assert stored.status == "rejected" and stored.payload == {"planId": str(plan.pk)}
    assert InboundEvent.objects.filter(status="accepted").count() == 2


def test_ndjson_lines_are_events_and_a_malformed_line_is_kept_raw(api, plan):
    # Given NDJSON with CRLF line ends, a blank line and one malformed line
    lines = [json.dumps(slot(plan, "a")), "{oops", "", json.dumps(slot(plan, "a"))]
    body = "\r\n".join(lines) + "\n"
    # When it is posted
    answers = results(post_batch(api, body, "application/x-ndjson"))
    # Then three events: accepted, rejected as malformed (raw text kept), duplicate
    assert [a["status"] for a in answers] == ["accepted", 400, "duplicate"]
    assert answers[1]["type"] == TYPES + "malformed-json"
    assert InboundEvent.objects.get(pk=answers[1]["id"]).raw_body == "{oops\r"


def test_an_unknown_subject_rejects_each_event(api, plan):
    response = api.post(
        "/api/v1/inbound/nothingHere/batch/", json.dumps([slot(plan)]), "application/json"
    )
    assert results(response)[0]["type"] == TYPES + "unknown-subject"


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ("[{oops", 400, "malformed-json"),
        ('[{"a": 1, "a": 2}]', 400, "malformed-json"),
        ('{"timeSlot": "x"}', 400, "invalid-batch"),
        ("[]", 400, "invalid-batch"),
    ],
    ids=["malformed", "repeated key", "not an array", "empty"],
)
def test_a_body_that_is_no_batch_is_refused_whole(api, body, status, slug):
    refused(post_batch(api, body), status, slug)


def test_empty_ndjson_is_refused(api):
    refused(post_batch(api, "\n\n", "application/x-ndjson"), 400, "invalid-batch")


def test_more_events_than_the_limit_is_413_naming_it(api, plan, settings):
    settings.HEALIX_INBOUND_BATCH_MAX_ITEMS = 3
    body = refused(post_batch(api, [slot(plan, str(n)) for n in range(4)]), 413, "batch-too-large")
    assert "at most 3" in body["detail"]
    assert results(post_batch(api, [slot(plan, str(n)) for n in range(3)]))


def test_a_body_over_the_batch_limit_is_413_unread(api, plan, settings):
    settings.HEALIX_INBOUND_BATCH_MAX_BYTES = 2000
    settings.HEALIX_API_MAX_BODY_BYTES = 100  # the batch has its own limit
    assert results(post_batch(api, [slot(plan, str(n)) for n in range(10)]))
    InboundEvent.objects.all().delete()
    body = refused(post_batch(api, [slot(plan, "x" * 2000)]), 413, "payload-too-large")
    assert "2000" in body["detail"]


def test_each_event_has_the_single_posts_size_limit(api, plan, settings):
    settings.HEALIX_INBOUND_MAX_BYTES = 1024
    answers = results(post_batch(api, [slot(plan, "x" * 2000), slot(plan)]))
    assert answers[0]["type"] == TYPES + "payload-too-large" and answers[0]["status"] == 413
    assert answers[1]["status"] == "accepted"


def test_wrong_content_type_is_415(api, plan):
    response = post_batch(api, json.dumps([slot(plan)]), "text/plain")
    assert response.status_code == 415 and not InboundEvent.objects.exists()


def test_an_idempotency_key_replays_the_batch_and_refuses_another_body(api, plan):
    headers = {"Idempotency-Key": "batch-1"}
    first = post_batch(api, [slot(plan, "a"), slot(plan, "b")], headers=headers)
    again = post_batch(api, [slot(plan, "a"), slot(plan, "b")], headers=headers)
    assert again.status_code == 207 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [a["status"] for a in again.json()["results"]] == ["accepted", "accepted"]
    assert InboundEvent.objects.filter(duplicate_count=0).count() == 2
    other = post_batch(api, [slot(plan, "c")], headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == TYPES + "idempotency-key-reused"
    assert InboundEvent.objects.count() == 2


def test_a_key_without_inbound_write_is_403(org, plan):
    from tests.fixtures.api import client_with_scopes

    client = client_with_scopes(org, ["inbound:read"])
    response = post_batch(client, [slot(plan)])
    assert response.status_code == 403 and response.json()["missingScope"] == "inbound:write"
    assert not InboundEvent.objects.exists()
