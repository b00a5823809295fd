"""The log lines of inbound events: one per message once committed, ids and statuses only."""

import pytest

from tests.fixtures.integrations import post_json

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"
LOGGER = "integrations.inbound.results"


def test_accepted_then_duplicate_name_the_event_its_org_and_the_request_trace(
    api, plan, captured_logs, django_capture_on_commit_callbacks
):
    body = {"planId": str(plan.pk), "timeSlot": "2026-01-05T10:00"}
    # When a partner posts the same slot twice, each with its own trace id
    with django_capture_on_commit_callbacks(execute=True):
        first = post_json(api, SUBJECT, body, HTTP_X_TRACE_ID="trace-a").json()
        post_json(api, SUBJECT, body, HTTP_X_TRACE_ID="trace-b")
    # Then one line each, under its request's trace id, naming the accepted event
    accepted, duplicate = captured_logs.json(LOGGER)
    common = {"orgId": "hrh", "inboundEventId": first["id"], "source": "rest", "subject": SUBJECT}
    assert accepted == {
        **common,
        "time": accepted["time"],
        "level": "INFO",
        "logger": LOGGER,
        "message": "Inbound event accepted",
        "traceId": "trace-a",
    }
    assert duplicate["message"] == "Inbound event duplicate"
    assert duplicate["traceId"] == "trace-b"
    assert {key: duplicate[key] for key in common} == common
    assert duplicate["duplicateOf"] == first["id"]


def test_a_rejection_names_its_kind_and_pointers_but_never_the_values(
    api, plan, template, captured_logs, django_capture_on_commit_callbacks
):
    template.integrations.get().fields.create(name="count", field_type="integer", position=1)
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_json(api, SUBJECT, {"planId": str(plan.pk), "count": "secret-two"}).json()
    [line] = captured_logs.json(LOGGER)
    assert (line["level"], line["message"]) == (
        "WARNING",
        "Inbound event rejected: invalid-payload",
    )
    assert (line["inboundEventId"], line["orgId"]) == (answer["id"], "hrh")
    assert line["pointers"] == ["#/count", "#/timeSlot"]
    assert not any("secret-two" in text for text in captured_logs.text())


def test_nothing_is_logged_for_a_batch_that_rolled_back(
    org, plan, captured_logs, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from integrations.inbound.services import ingest

    body = f'{{"planId": "{plan.pk}", "timeSlot": "x"}}'
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                ingest(org, SUBJECT, body, "nats")
                raise RuntimeError("the batch fails after ingest")
        except RuntimeError:
            pass
    assert captured_logs.json(LOGGER) == []


def test_a_rerun_is_logged_under_the_events_own_trace(
    api, plan, template, captured_logs, django_capture_on_commit_callbacks
):
    from integrations.inbound.services import rerun
    from integrations.models import InboundEvent

    # Given an event rejected for a field its definition then gains
    body = {"planId": str(plan.pk), "timeSlot": "09:00", "room": "B12"}
    with django_capture_on_commit_callbacks(execute=True):
        rejected = post_json(api, SUBJECT, body, HTTP_X_TRACE_ID="trace-r").json()
    template.integrations.get().fields.create(name="room", field_type="string", position=1)
    # When a content manager re-runs it
    with django_capture_on_commit_callbacks(execute=True):
        rerun(InboundEvent.objects.get(pk=rejected["id"]))
    # Then its acceptance is logged as a message's, under the trace of its first arrival
    line = captured_logs.json(LOGGER)[-1]
    assert (line["message"], line["traceId"]) == ("Inbound event accepted", "trace-r")
    assert (line["inboundEventId"], line["orgId"]) == (rejected["id"], "hrh")
