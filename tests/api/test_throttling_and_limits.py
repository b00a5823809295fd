"""Throttling per key (shared: counted in PostgreSQL), request size limits, health probes."""

import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from healix.api.throttling import count_request
from healix.celery import app
from healix.models import OrganizationAPIKey
from tests.fixtures.waiting import PATIENCE

pytestmark = pytest.mark.django_db


def test_a_key_over_its_rate_gets_429_with_retry_after(world, other_world, settings):
    settings.HEALIX_API_RATE_PER_MINUTE = 3
    answers = [world.client.get("/api/v1/plans/").status_code for _ in range(4)]
    assert answers[:3] == [200, 200, 200]
    assert answers[3] == 429
    refused = world.client.get("/api/v1/plans/")
    assert refused["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another key (another organization's) is counted apart
    assert other_world.client.get("/api/v1/plans/").status_code == 200


def test_the_window_starts_again_each_minute(world):
    key_id = OrganizationAPIKey.objects.get(name="hrh-all").pk
    minute = datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
    assert [count_request(key_id, minute) for _ in range(3)] == [1, 2, 3]
    assert count_request(key_id, minute.replace(minute=1)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_are_counted_exactly(world):
    # Given many connections counting one key at once (as several web processes would)
    key_id = OrganizationAPIKey.objects.get(name="hrh-all").pk
    moment = datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
    counts = []
    start = threading.Barrier(8)

    def count():
        try:
            start.wait(PATIENCE)
            counts.extend(count_request(key_id, moment) for _ in range(25))
        finally:
            connection.close()

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    # Then no two requests got the same count: none slipped through uncounted
    assert sorted(counts) == list(range(1, 201))


def test_a_body_over_the_limit_is_refused_unread(world, settings):
    settings.HEALIX_API_MAX_BODY_BYTES = 1000
    body = json.dumps({"templateName": "x" * 2000, "userId": world.patient_id})
    response = world.client.post("/api/v1/plans/", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_a_body_that_is_not_json_is_a_415_or_400(world):
    response = world.client.post("/api/v1/plans/", "a=b", content_type="text/plain")
    assert response.status_code == 415
    response = world.client.post("/api/v1/plans/", "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["type"].endswith("malformed-json")


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_when_everything_answers(client, nats_server, settings):
    settings.NATS_URL = nats_server.url
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "nats": "ok", "celeryBroker": "ok"}


def test_readyz_names_what_is_down(client, settings):
    # Given NATS unreachable (a port nothing listens on) and an unreachable RabbitMQ broker
    settings.NATS_URL = "nats://127.0.0.1:9"
    previous = app.conf.broker_url
    app.conf.broker_url = "amqp://guest:guest@127.0.0.1:9//"
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["nats", "celeryBroker"]
    assert body["checks"]["database"] == "ok"
    assert "nats" in body["detail"] and "celeryBroker" in body["detail"]
