"""The log context: bound fields on every record, JSON and text lines, the Celery header."""

import asyncio
import json
import logging

import pytest
from django.urls import reverse

from healix.observability.logcontext import bind, bound, from_header, note, to_header
from healix.observability.tracing import trace
from tests.healix.test_settings import start_django

LOGGER = "tests.logcontext"


@pytest.fixture
def lines(captured_logs):
    """(logger, read): read() gives its lines as JSON, read("text") as text."""

    def read(kind: str = "json") -> list:
        return captured_logs.json(LOGGER) if kind == "json" else captured_logs.text(LOGGER)

    return logging.getLogger(LOGGER), read


def test_bound_fields_and_the_trace_id_are_on_every_line_of_the_block(lines):
    logger, read = lines
    # Given a block handling one inbound event under its trace id
    with trace("trace-1"), bind(org_id="hrh", inbound_event_id="e-1", plan_id=None):
        # When an ordinary log call is made, with an extra field of its own
        logger.info("Inbound event %s", "accepted", extra={"subject": "slot"})
    logger.info("after")
    # Then its line carries the bound ids (None left out), the extra, and the message
    inside, after = read()
    assert inside["message"] == "Inbound event accepted"
    assert (inside["level"], inside["logger"]) == ("INFO", "tests.logcontext")
    assert {k: inside[k] for k in ("traceId", "orgId", "inboundEventId", "subject")} == {
        "traceId": "trace-1",
        "orgId": "hrh",
        "inboundEventId": "e-1",
        "subject": "slot",
    }
    assert "planId" not in inside
    assert inside["time"].endswith("+00:00")
    # And nothing is left bound after the block
    assert set(after) == {"time", "level", "logger", "message"}


def test_inner_binds_add_and_override_then_restore(lines):
    logger, read = lines
    with bind(org_id="hrh", event_id="outer"):
        with bind(event_id="inner", delivery_id="d-1"):
            logger.info("inner")
        logger.info("outer")
    inner, outer = read()
    assert (inner["orgId"], inner["eventId"], inner["deliveryId"]) == ("hrh", "inner", "d-1")
    assert (outer["eventId"], "deliveryId" in outer) == ("outer", False)


def test_an_explicit_extra_wins_over_the_context(lines):
    logger, read = lines
    with bind(org_id="hrh"):
        logger.info("x", extra={"orgId": "explicit"})
    assert read()[0]["orgId"] == "explicit"


def test_an_unknown_field_is_refused():
    with pytest.raises(TypeError, match="orgid"), bind(orgid="hrh"):
        pass


def test_note_adds_until_the_enclosing_bind_ends(lines):
    logger, read = lines
    # Given a request bound by the middleware, whose API key's organization is learnt midway
    with bind():
        note(org_id="hrh")
        logger.info("after authentication")
    logger.info("next request")
    during, after = read()
    assert during["orgId"] == "hrh"
    assert "orgId" not in after


def test_concurrent_tasks_keep_their_own_context(lines):
    logger, read = lines

    async def handle(org: str) -> None:
        with bind(org_id=org, event_id=f"event-of-{org}"):
            await asyncio.sleep(0.01)  # the other task runs meanwhile
            logger.info("handled")

    async def both() -> None:
        await asyncio.gather(handle("a"), handle("b"))

    asyncio.run(both())
    assert sorted((line["orgId"], line["eventId"]) for line in read()) == [
        ("a", "event-of-a"),
        ("b", "event-of-b"),
    ]


def test_the_celery_header_carries_the_context_to_the_worker(lines):
    logger, read = lines
    # Given what a publisher's context puts in a task's header
    with trace("trace-2"), bind(org_id="hrh", inbound_event_id="e-2"):
        header = to_header()
    assert header == {"traceId": "trace-2", "orgId": "hrh", "inboundEventId": "e-2"}
    # When the worker binds it around the task
    with from_header(json.loads(json.dumps(header))):  # as the broker carries it
        logger.info("in the task")
    # Then the task's lines carry it, and nothing stays bound afterwards
    assert read()[0]["traceId"] == "trace-2"
    assert read()[0]["inboundEventId"] == "e-2"
    assert bound() == {}


@pytest.mark.parametrize("header", [None, "text", {"traceId": 5, "orgId": ["x"], "evil": "y"}])
def test_a_missing_or_odd_header_binds_nothing(header, lines):
    logger, read = lines
    with from_header(header):
        logger.info("in the task")
    assert set(read()[0]) == {"time", "level", "logger", "message"}


def test_the_text_format_ends_each_line_with_key_value_pairs(lines):
    logger, read = lines
    with trace("trace-3"), bind(org_id="hrh"):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("Failed", extra={"attempt": 2})
    text = read("text")[0]
    first, *traceback = text.splitlines()
    assert first.endswith("ERROR tests.logcontext Failed attempt=2 orgId=hrh traceId=trace-3")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "ValueError: boom"


def test_the_json_format_keeps_a_traceback_in_one_line(lines):
    logger, read = lines
    with bind(org_id="hrh"):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("Failed")
    line = read()[0]
    assert line["orgId"] == "hrh"
    assert line["exc_info"].endswith("ValueError: boom")


def test_log_format_must_be_json_or_text():
    result = start_django(DEBUG="true", DATABASE_URL="postgres://x@h/db", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'xml'" in result.stderr


@pytest.mark.django_db
def test_a_403_in_the_admin_is_one_info_line_without_traceback(
    client, hrh_administrator, captured_logs
):
    # given an administrator of hrh, who may not see the list of organizations
    client.force_login(hrh_administrator)
    # when they open it in the admin
    response = client.get(reverse("admin:healix_organization_changelist"))
    # then they get a 403, logged as one INFO line that names the reason, with no traceback
    assert response.status_code == 403
    [text] = captured_logs.text("django.request")
    assert "\n" not in text, text
    assert " INFO django.request Forbidden (Permission denied): /admin/healix/organization/" in text
    [line] = captured_logs.json("django.request")
    assert line["level"] == "INFO" and "exc_info" not in line, line


def test_a_server_error_keeps_its_level_and_traceback(captured_logs):
    # given a request that failed on the server (Django logs a 500 with the exception)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", "/admin/", exc_info=True, extra={"status_code": 500}
        )
    # then its line keeps the ERROR level and the traceback: that one is worth reading
    [text] = captured_logs.text("django.request")
    assert " ERROR django.request Internal Server Error: /admin/" in text
    assert text.splitlines()[-1] == "ValueError: boom"
    [line] = captured_logs.json("django.request")
    assert line["level"] == "ERROR" and line["exc_info"].endswith("ValueError: boom")
