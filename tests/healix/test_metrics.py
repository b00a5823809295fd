"""/metrics: who may scrape it, the gauges read from the database, and counters written by
real processes (consume_bus, the relay, a Celery worker) added up in multi-process mode."""

import signal
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.db.models import Func, Sum

from dev.demo import create_demo_rules
from events.models import OutboxEvent, OutboxPending
from events.types import EventType
from integrations.models import DeliveryStatus, InboundEvent, InboundStatus, WebhookDelivery
from integrations.webhooks.services import ALL
from plans import services
from rules.models import RuleEvaluation
from tests.fixtures.metrics import value
from tests.fixtures.waiting import PATIENCE, wait_until
from tests.fixtures.webhooks import make_delivery, make_integration

SUBJECT = "aiEngineTimeSlot"


def scrape(client, **headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


# --- access ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_token_only_a_direct_loopback_request_is_answered(client, settings):
    settings.HEALIX_METRICS_TOKEN = ""
    # The test client's requests come from 127.0.0.1
    assert "healix_outbox_unpublished_events" in scrape(client)
    # A request that passed a proxy is refused, as is one from elsewhere
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert proxied["Content-Type"] == "application/problem+json"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_with_a_token_only_its_bearer_is_answered(client, settings):
    settings.HEALIX_METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 403
    wrong = {"Authorization": "Bearer not-it"}
    assert client.get("/metrics", headers=wrong).status_code == 403
    right = {"Authorization": "Bearer s3cret-metrics-token", "X-Forwarded-For": "203.0.113.9"}
    assert "healix_webhook_deliveries_pending" in scrape(client, **right)


# --- gauges from the database ---------------------------------------------------------------


@pytest.mark.django_db
def test_waiting_work_is_read_from_the_database_per_organization(
    client, org, other_org, actor, template, patient, webhook_settings
):
    # Given two plans assigned in hrh and no relay running (their events wait in the outbox)
    services.assign_plan(actor=actor, template=template, user=patient)
    services.assign_plan(actor=actor, template=template, user=patient)
    waiting = OutboxEvent.objects.filter(organization=org, pending__isnull=False).count()
    # and a pending test delivery of an hrh integration
    integration, _ = make_integration(org, "http://127.0.0.1:9/hook")
    make_delivery(integration)
    # When Prometheus scrapes
    text = scrape(client)
    # Then the gauges say what waits, for hrh only
    assert waiting >= 2
    assert value(text, "healix_outbox_unpublished_events", organization=str(org.pk)) == waiting
    assert value(text, "healix_outbox_unpublished_events", organization=str(other_org.pk)) == 0
    assert value(text, "healix_outbox_oldest_unpublished_age_seconds", organization=str(org.pk))
    pending = {"organization": str(org.pk), "integration": str(integration.pk)}
    assert value(text, "healix_webhook_deliveries_pending", **pending) == 1


@pytest.mark.django_db
def test_without_the_database_the_counters_are_still_answered(client):
    def refuse(execute, sql, params, many, context):
        if OutboxEvent._meta.db_table in sql:  # the gauges' first query
            raise OperationalError("the server closed the connection")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        text = scrape(client)
    assert value(text, "healix_metrics_database_up") == 0
    assert "# TYPE healix_inbound_messages_total counter" in text
    assert "healix_outbox_unpublished_events" not in text
    assert value(scrape(client), "healix_metrics_database_up") == 1


# --- counters of real processes -------------------------------------------------------------


@pytest.fixture
def multiprocess_metrics(tmp_path, monkeypatch, settings) -> Path:
    """Multi-process mode for the processes started after it (they inherit the variable) and
    for /metrics in this process, which reads their files."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    settings.HEALIX_METRICS_DIR = str(folder)
    return folder


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(PATIENCE)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_counters_of_every_process_add_up_on_metrics(
    client, org, actor, template, patient, plan, receiver, webhook_settings,
    multiprocess_metrics, webhook_pipeline, webhook_worker, start_consume_bus, publish,
):  # fmt: skip
    relay, first_bus = webhook_pipeline
    create_demo_rules(template)
    integration, _ = make_integration(
        org, receiver.url(), subscriptions={EventType.PLAN_CREATED: ALL}
    )
    # Given three messages and a malformed one, ingested by the first consume_bus process
    for minute in range(3):
        publish("hrh", SUBJECT, {"planId": str(plan.pk), "timeSlot": f"2026-12-01T09:0{minute}"})
    publish("hrh", SUBJECT, b"{not json")
    wait_until(lambda: InboundEvent.objects.count() == 4)
    stop(first_bus)
    # And two new messages and a copy of an earlier one, ingested by a second process
    second_bus = start_consume_bus()
    for minute in range(3, 5):
        publish("hrh", SUBJECT, {"planId": str(plan.pk), "timeSlot": f"2026-12-01T09:0{minute}"})
    publish("hrh", SUBJECT, {"planId": str(plan.pk), "timeSlot": "2026-12-01T09:00"})
    accepted = InboundEvent.objects.filter(status=InboundStatus.ACCEPTED)
    wait_until(lambda: accepted.aggregate(n=Sum("duplicate_count"))["n"] == 1)
    # And a plan assigned: the relay publishes, the bus fans out, the worker delivers
    services.assign_plan(actor=actor, template=template, user=patient)
    succeeded = WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
    wait_until(lambda: succeeded.exists() and not WebhookDelivery.objects.exclude(
        status=DeliveryStatus.SUCCEEDED).exists())  # fmt: skip
    wait_until(lambda: not accepted.filter(rules_done_at__isnull=True).exists())  # rules done
    wait_until(lambda: not OutboxPending.objects.exists())
    # When Prometheus scrapes
    text = scrape(client)
    org_id = str(org.pk)
    # Then the inbound counts add up both consume_bus processes, each of which wrote its own
    inbound = {"organization": org_id, "subject": SUBJECT}
    assert value(text, "healix_inbound_messages_total", status="accepted", **inbound) == 5
    assert value(text, "healix_inbound_messages_total", status="duplicate", **inbound) == 1
    rejected = {"organization": org_id, "subject": "", "reason": "malformed-json"}
    assert value(text, "healix_inbound_messages_total", status="rejected", **rejected) == 1
    assert value(text, "healix_inbound_ingest_seconds_count", source="nats") >= 2
    for process in (first_bus, second_bus, relay, webhook_worker):
        assert (multiprocess_metrics / f"counter_{process.pid}.db").exists(), process.args
    # And the relay's, the worker's webhook and rules counts match what the database recorded
    published = OutboxEvent.objects.filter(organization=org, event_type="planCreated")
    planned = {"organization": org_id, "event_type": "planCreated"}
    assert value(text, "healix_events_published_total", **planned) == published.count() >= 2
    assert value(text, "healix_events_publish_lag_seconds_count", event_type="planCreated") >= 2
    delivered = {"organization": org_id, "integration": str(integration.pk)}
    count = succeeded.count()
    assert value(text, "healix_webhook_deliveries_total", status="succeeded", **delivered) == count
    assert value(text, "healix_webhook_attempts_total", outcome="succeeded", **delivered) == count
    assert value(text, "healix_webhook_delivery_lag_seconds_count", organization=org_id) == count
    evaluations = RuleEvaluation.objects.filter(organization=org)
    fired = evaluations.aggregate(n=Sum(Func("fired_rules", function="cardinality")))["n"]
    inbound_evaluations = evaluations.filter(trigger="integration").count()
    assert value(text, "healix_rules_evaluations_total", organization=org_id) == evaluations.count()
    assert value(text, "healix_rules_fired_total", organization=org_id) == fired >= 1
    seconds = value(text, "healix_rules_evaluation_seconds_count", trigger="integration")
    assert seconds == inbound_evaluations == 5
