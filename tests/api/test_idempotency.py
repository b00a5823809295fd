"""Idempotency-Key on POST: repeats, conflicts, expiry, concurrency."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection

from events.models import OutboxEvent
from healix.api.idempotency import IDEMPOTENCY_WINDOW
from healix.models import IdempotentRequest
from plans.models import Plan
from tests.fixtures.integrations import key_client
from tests.fixtures.waiting import PATIENCE

pytestmark = pytest.mark.django_db


def create_plan(client, body, key="create-1"):
    return client.post(
        "/api/v1/plans/",
        json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


def test_a_repeat_returns_the_first_answer_and_does_nothing_again(world):
    body = {"templateName": "sAI-ERComp", "userId": world.patient_id, "title": "Once"}
    first = create_plan(world.client, body)
    events = OutboxEvent.objects.count()
    # When the partner retries with the same key and body
    again = create_plan(world.client, body)
    # Then it gets the same answer, marked as a replay, and no second plan or event
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Plan.objects.filter(title="Once").count() == 1
    assert OutboxEvent.objects.count() == events


def test_the_same_key_with_another_body_is_a_422(world):
    create_plan(world.client, {"templateName": "sAI-ERComp", "userId": world.patient_id})
    response = create_plan(
        world.client, {"templateName": "sAI-ERComp", "userId": world.patient_id, "title": "x"}
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert Plan.objects.filter(title="x").count() == 0


def test_the_same_key_on_another_path_is_a_422(world):
    create_plan(world.client, {"templateName": "sAI-ERComp", "userId": world.patient_id})
    response = world.client.post(
        f"/api/v1/form-assignments/{world.assignment.pk}/submit/",
        json.dumps({"data": {"age": 3}}),
        content_type="application/json",
        headers={"Idempotency-Key": "create-1"},
    )
    assert response.status_code == 422


def test_keys_belong_to_their_organization(world, other_world):
    # The same key string from two organizations is two different requests
    create_plan(world.client, {"templateName": "sAI-ERComp", "userId": world.patient_id})
    theirs = create_plan(
        other_world.client, {"templateName": "sAI-ERComp", "userId": other_world.patient_id}
    )
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs


def test_an_error_answer_is_replayed_too(world):
    body = {"templateName": "nope", "userId": world.patient_id}
    first = create_plan(world.client, body)
    assert first.status_code == 400
    again = create_plan(world.client, body)
    assert again.status_code == 400 and again.json() == first.json()
    assert again["Content-Type"] == "application/problem+json"


def test_after_24_hours_the_key_is_forgotten(world):
    body = {"templateName": "sAI-ERComp", "userId": world.patient_id, "title": "Twice"}
    create_plan(world.client, body)
    IdempotentRequest.objects.update(
        created_at=(
            IdempotentRequest.objects.get().created_at - IDEMPOTENCY_WINDOW - timedelta(seconds=1)
        )
    )
    again = create_plan(world.client, body)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Plan.objects.filter(title="Twice").count() == 2
    assert IdempotentRequest.objects.count() == 1


def test_inbound_posts_are_idempotent(world):
    body = {"planId": str(world.plan.pk), "timeSlot": "late"}
    url = "/api/v1/inbound/aiEngineTimeSlot/"
    headers = {"Idempotency-Key": "slot-1"}
    first = world.client.post(url, body, content_type="application/json", headers=headers)
    again = world.client.post(url, body, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and first.json()["status"] == "accepted"
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_a_400(world, key):
    response = create_plan(
        world.client, {"templateName": "sAI-ERComp", "userId": world.patient_id}, key=key
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/Idempotency-Key"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_make_one_plan(world):
    body = {"templateName": "sAI-ERComp", "userId": world.patient_id, "title": "Race"}
    answers = []
    start = threading.Barrier(4)

    def post():
        try:
            start.wait(PATIENCE)
            answers.append(create_plan(key_client(world.key), body, key="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" in a for a in answers) == 3
    assert Plan.objects.filter(title="Race").count() == 1
