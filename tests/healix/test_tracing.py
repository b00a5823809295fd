"""Trace ids: taken from traceparent or X-Trace-Id at the edge, else made, and carried."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from healix.observability.middleware import TraceIdMiddleware
from healix.observability.tracing import current_trace_id, trace, trace_id_from_headers
from plans import services

W3C_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{W3C_ID}-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("traceparent", "x_trace_id", "expected"),
    [
        (TRACEPARENT, "ignored-when-traceparent-is-good", W3C_ID),
        ("garbage", "partner-123", "partner-123"),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", "partner-123", "partner-123"),  # all-zero: invalid
        (None, " ulid-01HZX ", "ulid-01HZX"),
        (f"ff-{W3C_ID}-00f067aa0ba902b7-01", "partner-123", "partner-123"),  # version ff
        (f"00-{W3C_ID}-{'0' * 16}-01", "partner-123", "partner-123"),  # all-zero parent id
        (f"00-{W3C_ID}-00f067aa0ba902b7-01-extra", "partner-123", "partner-123"),  # 00 is exact
        (f"01-{W3C_ID}-00f067aa0ba902b7-01-future", "partner-123", W3C_ID),  # later versions
    ],
)
def test_the_edge_takes_traceparent_then_x_trace_id(traceparent, x_trace_id, expected):
    assert trace_id_from_headers(traceparent, x_trace_id) == expected


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "new\nline", "é"])
def test_unacceptable_ids_are_replaced_by_a_new_one(bad):
    made = trace_id_from_headers(None, bad)
    assert made != bad and len(made) == 32 and int(made, 16) >= 0


def test_trace_nests_and_restores():
    assert current_trace_id() is None
    with trace("outer") as outer:
        with trace(None) as inner:
            assert current_trace_id() == inner != outer
        assert current_trace_id() == "outer"
    assert current_trace_id() is None


@pytest.mark.django_db
def test_a_request_s_events_carry_its_trace_id(actor, plan, emitted_events):
    # Given a request with a W3C traceparent whose view calls a service
    def view(request):
        services.update_plan(actor=actor, plan=plan, risk_status="high")
        return HttpResponse("ok")

    request = RequestFactory().post("/anything", headers={"traceparent": TRACEPARENT})
    # When the middleware handles it
    response = TraceIdMiddleware(view)(request)
    # Then the event and the response carry the request's trace id, and nothing lingers
    assert emitted_events[-1]["traceId"] == W3C_ID
    assert response["Healix-Trace-Id"] == W3C_ID
    assert current_trace_id() is None


def test_the_middleware_is_installed_first_after_security(client, settings):
    assert settings.MIDDLEWARE.index("healix.observability.middleware.TraceIdMiddleware") <= 1
    response = client.get("/api/v1/asyncapi.json", headers={"X-Trace-Id": "abc-123"})
    assert response["Healix-Trace-Id"] == "abc-123"
