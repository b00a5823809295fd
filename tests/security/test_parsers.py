"""A hostile partner of organization B sends JSON that Python's json module would accept, or
chokes on, to every JSON endpoint of the REST API: each is a 400 problem naming the reason,
nothing is stored (inbound stores its rejection, with the raw body), and organization A's
data is untouched. One parser decides (healix/strict_json.py), so every endpoint answers alike.
"""

import pytest

from integrations.models import InboundEvent
from tests.fixtures.api import ENDPOINTS, Endpoint, World

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
MALFORMED = "https://healix.me/problems/malformed-json"

# (body, words the problem's detail must hold)
HOSTILE_BODIES = {
    "2,000 levels deep": ("[" * 2000 + "]" * 2000, "nested deeper than 64 levels"),
    "65 levels deep in a member": (
        '{"data": {"age": ' + "[" * 65 + "]" * 65 + "}}",
        "nested deeper than 64 levels",
    ),
    "a repeated key": ('{"title": "a", "title": "b"}', "'title' appears more than once"),
    "NaN": ('{"priority": NaN}', "NaN is not JSON"),
    "Infinity": ('{"priority": Infinity}', "Infinity is not JSON"),
    "-Infinity": ('{"priority": -Infinity}', "-Infinity is not JSON"),
    "a 5,000-digit integer": ('{"priority": ' + "9" * 5000 + "}", "beyond ±(2^53 - 1)"),
    "2^53": ('{"priority": 9007199254740992}', "beyond ±(2^53 - 1)"),
    "1e400": ('{"priority": 1e400}', "too large for a double"),
    "a lone surrogate": ('{"title": "\\ud800"}', "lone surrogate"),
    "not UTF-8": (b'{"title": "\xff"}', "not UTF-8"),
}
JSON_ENDPOINTS = [e for e in ENDPOINTS if e.method in ("POST", "PATCH") and e.body is not None]
INBOUND = next(e for e in JSON_ENDPOINTS if e.path == "/api/v1/inbound/aiEngineTimeSlot/")
# Every other one stores nothing for such a body (an inbound batch is then refused whole).
NON_INBOUND = [e for e in JSON_ENDPOINTS if e is not INBOUND]


def send(endpoint: Endpoint, target: World, body: str | bytes):
    method = getattr(target.client, endpoint.method.lower())
    return method(endpoint.url(target), body, content_type="application/json")


def assert_malformed(response, words: str) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == MALFORMED, problem
    assert words in problem["detail"], problem["detail"]
    assert [error["pointer"] for error in problem["errors"]] == ["#"]
    return problem


def test_the_catalogue_names_every_endpoint_that_reads_a_json_body():
    assert {e.name for e in JSON_ENDPOINTS} == {
        "POST /api/v1/inbound/aiEngineTimeSlot/",
        "POST /api/v1/inbound/aiEngineTimeSlot/batch/",
        "POST /api/v1/plans/",
        "PATCH /api/v1/plans/{plan}/",
        "POST /api/v1/form-assignments/{assignment}/submit/",
        "PATCH /api/v1/work-queue-items/{item}/",
        "POST /api/v1/webhooks/",
        "PATCH /api/v1/webhooks/{webhook}/",
        "POST /api/v1/portal-sessions/",
    }


@pytest.mark.parametrize("body, words", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES)
@pytest.mark.parametrize("endpoint", NON_INBOUND, ids=lambda e: e.name)
def test_a_hostile_body_is_a_400_problem_and_changes_nothing(
    endpoint, body, words, world, other_world
):
    # Given both organizations' data as it is
    ours, theirs = world.fingerprint(), other_world.fingerprint()
    # When B's partner sends the body to its own object
    response = send(endpoint, other_world, body)
    # Then it is a 400 problem naming the reason, and nothing of A or B changed
    assert_malformed(response, words)
    assert (world.fingerprint(), other_world.fingerprint()) == (ours, theirs)


@pytest.mark.parametrize("body, words", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES)
def test_inbound_says_the_same_and_keeps_the_rejection_with_its_raw_body(
    body, words, world, other_world
):
    # Given A's data as it is
    ours = world.fingerprint()
    # When B's partner sends the body to an inbound subject
    problem = assert_malformed(send(INBOUND, other_world, body), words)
    # Then B's rejection is stored with the body as sent, and A has nothing new
    event = InboundEvent.objects.get(pk=problem["id"])
    assert (event.organization, event.status) == (other_world.organization, "rejected")
    raw = body if isinstance(body, str) else body.decode("utf-8", "replace")
    assert event.raw_body == raw[: len(event.raw_body)] and event.raw_body
    assert words in event.errors[0]["detail"]
    assert world.fingerprint() == ours


@pytest.mark.parametrize("endpoint", NON_INBOUND, ids=lambda e: e.name)
def test_a_body_of_64_levels_is_still_read(endpoint, world, other_world):
    # Given a body whose deepest value sits 64 containers down (the limit, not past it)
    deep = "[" * 63 + "]" * 63
    body = f'{{"unknownMember": {deep}}}'
    # When B's partner sends it / Then the parser lets it through to the view's own checks
    response = send(endpoint, other_world, body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["type"] != MALFORMED
