"""A partner of organization B sends its body chunked (Transfer-Encoding: chunked, no
Content-Length) to the production web server, gunicorn. Django reads a request without
Content-Length as empty: an inbound message was stored as a misleading rejection with an empty
raw body, and a PATCH changed nothing yet answered 200. Now the body is read up to the API's
limit (413 past it), and a server that cannot delimit it answers 411; nothing is ever stored
without its body, and organization A's data is untouched.

Django's test client cannot send a chunked body: these tests use real servers and write the
request on a socket themselves."""

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

import pytest

from integrations.models import InboundEvent
from plans.models import Plan
from tests.fixtures.api import World
from tests.fixtures.waiting import PATIENCE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

PROBLEM = "application/problem+json"
INBOUND = "/api/v1/inbound/aiEngineTimeSlot/"
# The API's body limit for these servers: small, so that passing it costs little traffic.
API_LIMIT = 65536


def chunked(
    base_url: str, method: str, path: str, key: str, chunks: Iterable[bytes]
) -> tuple[int, dict[str, str], dict]:
    """(status, headers, JSON body) of a request whose body goes out chunked, with no
    Content-Length. It is sent from a thread of its own while this one reads the answer: a
    server may answer (413, 411) before it has read the whole body, and close."""
    address = urlsplit(base_url)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Api-Key {key}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=PATIENCE) as sock:
        sender = threading.Thread(target=_send, args=(sock, head + body))
        sender.start()
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = response.read()
        sender.join(PATIENCE)
    return response.status, dict(response.getheaders()), json.loads(answer or b"null")


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server answered and closed before reading it all
        sock.sendall(data)


def pieces(text: str, size: int = 7) -> list[bytes]:
    data = text.encode()
    return [data[start : start + size] for start in range(0, len(data), size)]


@pytest.fixture
def gunicorn(start_web) -> str:
    return start_web("gunicorn", HEALIX_API_MAX_BODY_BYTES=str(API_LIMIT))


def test_a_chunked_inbound_message_is_read_whole(gunicorn, world: World, other_world: World):
    # Given A's data as it is
    ours = world.fingerprint()
    payload = {"planId": str(other_world.plan.pk), "timeSlot": "chunked 09:30"}
    # When B's partner sends a valid payload in chunks
    status, _, answer = chunked(
        gunicorn, "POST", INBOUND, other_world.key, pieces(json.dumps(payload))
    )
    # Then it is accepted with the payload as sent, in B's organization only
    assert (status, answer["status"]) == (202, "accepted"), answer
    event = InboundEvent.objects.get(pk=answer["id"])
    assert (event.organization, event.payload) == (other_world.organization, payload)
    assert world.fingerprint() == ours


def test_a_chunked_malformed_message_is_stored_with_its_raw_body(gunicorn, other_world: World):
    # When B's partner sends malformed JSON in chunks
    body = f'{{"planId": "{other_world.plan.pk}", "timeSlot": "x",}}'
    status, headers, problem = chunked(gunicorn, "POST", INBOUND, other_world.key, pieces(body))
    # Then the rejection names the real reason and keeps the body as sent, not an empty one
    assert (status, headers["Content-Type"]) == (400, PROBLEM)
    event = InboundEvent.objects.get(pk=problem["id"])
    assert event.raw_body == body
    assert "Expecting property name" in event.errors[0]["detail"]


def test_a_chunked_patch_changes_what_it_says(gunicorn, world: World, other_world: World):
    # When B's partner changes its plan's title with a chunked body
    url = f"/api/v1/plans/{other_world.plan.pk}/"
    body = json.dumps({"title": "Sent in chunks"})
    status, _, answer = chunked(gunicorn, "PATCH", url, other_world.key, pieces(body))
    # Then the change is made (before, the body was read as empty and nothing changed)
    assert (status, answer["title"]) == (200, "Sent in chunks")
    assert Plan.objects.get(pk=other_world.plan.pk).title == "Sent in chunks"
    assert Plan.objects.get(pk=world.plan.pk).title == "API"


def test_a_chunked_body_past_the_limit_is_a_413_and_stores_nothing(
    gunicorn, world: World, other_world: World
):
    # Given A's and B's data as they are
    ours, theirs = world.fingerprint(), other_world.fingerprint()
    # When B's partner streams a body past the API's limit (and would go on)
    body = json.dumps({"planId": str(other_world.plan.pk), "timeSlot": "x" * (2 * API_LIMIT)})
    status, headers, problem = chunked(
        gunicorn, "POST", INBOUND, other_world.key, pieces(body, 4096)
    )
    # Then it is refused for its size, and nothing was stored for anybody
    assert (status, headers["Content-Type"]) == (413, PROBLEM)
    assert f"more than {API_LIMIT} bytes" in problem["detail"]
    assert (world.fingerprint(), other_world.fingerprint()) == (ours, theirs)


def test_a_server_that_cannot_delimit_the_body_answers_411(
    start_web, world: World, other_world: World
):
    # Given Django's development server, which passes a chunked body on unread
    runserver = start_web("runserver")
    ours, theirs = world.fingerprint(), other_world.fingerprint()
    # When B's partner sends a payload in chunks
    body = json.dumps({"planId": str(other_world.plan.pk), "timeSlot": "09:30"})
    status, headers, problem = chunked(runserver, "POST", INBOUND, other_world.key, pieces(body))
    # Then it is told to send a Content-Length, and no empty rejection was stored
    assert (status, headers["Content-Type"]) == (411, PROBLEM)
    assert "Content-Length" in problem["detail"]
    assert (world.fingerprint(), other_world.fingerprint()) == (ours, theirs)


def test_a_chunked_batch_has_the_batchs_own_limit(start_web, world: World, other_world: World):
    # Given gunicorn whose batch limit is four times the API's
    server = start_web(
        "gunicorn",
        HEALIX_API_MAX_BODY_BYTES=str(API_LIMIT),
        HEALIX_INBOUND_BATCH_MAX_BYTES=str(4 * API_LIMIT),
    )
    ours = world.fingerprint()
    batch_url = f"{INBOUND}batch/"

    def events(count: int) -> str:
        plan = str(other_world.plan.pk)
        return json.dumps(
            [{"planId": plan, "timeSlot": f"{n:04} " + "x" * 400} for n in range(count)]
        )

    # When B's partner streams a batch past the API's limit but within the batch's
    status, _, answer = chunked(
        server, "POST", batch_url, other_world.key, pieces(events(300), 4096)
    )
    # Then it is read whole: every event accepted, in B only
    assert status == 207 and {a["status"] for a in answer["results"]} == {"accepted"}
    assert len(answer["results"]) == 300
    # And a batch past the batch's limit is refused unread, nothing stored
    before = other_world.fingerprint()
    status, _, problem = chunked(
        server, "POST", batch_url, other_world.key, pieces(events(700), 4096)
    )
    assert (status, problem["type"]) == (413, "https://healix.me/problems/payload-too-large")
    assert f"more than {4 * API_LIMIT} bytes" in problem["detail"]
    assert other_world.fingerprint() == before and world.fingerprint() == ours
