"""A web worker whose kept database connection was dropped (a restart of PostgreSQL) answers
503 with Retry-After, changes nothing, and serves the next request on a new connection."""

import psycopg
import pytest
from django.db import close_old_connections, connection

from integrations.models import InboundEvent

pytestmark = pytest.mark.django_db(transaction=True)
SUBJECT = "aiEngineTimeSlot"  # the world's template listens to it (tests/fixtures/api.py)


@pytest.fixture
def without_health_checks():
    """The Procfile's web: DATABASE_CONN_HEALTH_CHECKS=false (no SELECT 1 per request)."""
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    yield
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True


def drop_connection() -> None:
    """What a database restart does to the connection this process keeps."""
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])


def test_a_dropped_connection_is_a_503_and_the_next_request_succeeds(world, without_health_checks):
    # Given the web's connection dropped by the database
    before = InboundEvent.objects.count()
    drop_connection()
    # When a partner posts an inbound event
    refused = world.client.post(
        f"/api/v1/inbound/{SUBJECT}/",
        {"planId": str(world.plan.pk), "timeSlot": "09:00"},
        content_type="application/json",
    )
    # Then it is told to come back, in problem details, and nothing was stored
    assert refused.status_code == 503
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "1"
    assert refused.json()["type"].endswith("/database-unavailable")
    # (Django closes a connection that failed when the request ends; the test client leaves
    # that signal out, so the test does what the server would.)
    close_old_connections()
    assert InboundEvent.objects.count() == before
    # And sent again, it is accepted on a new connection
    accepted = world.client.post(
        f"/api/v1/inbound/{SUBJECT}/",
        {"planId": str(world.plan.pk), "timeSlot": "09:00"},
        content_type="application/json",
    )
    assert accepted.status_code == 202, accepted.content
    assert InboundEvent.objects.count() == before + 1


def test_with_health_checks_a_dropped_connection_is_replaced_unseen(world):
    # Given the default (DATABASE_CONN_HEALTH_CHECKS=true) and a connection the database dropped
    connection.close()
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    drop_connection()
    # (the health check runs on a connection kept from an earlier request)
    close_old_connections()
    # When a partner posts an inbound event
    response = world.client.post(
        f"/api/v1/inbound/{SUBJECT}/",
        {"planId": str(world.plan.pk), "timeSlot": "09:00"},
        content_type="application/json",
    )
    # Then it is accepted on a new connection
    assert response.status_code == 202, response.content
