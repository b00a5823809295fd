"""bench/ceiling_wsgi.py, the REST figures' ceiling, and bench/floor_django.py, the same work in
Django and DRF: each must do the durable work it stands for, or the ratios bench/api.py prints
would compare Healix with less than its endpoints' work."""

import io
import json
import os
from wsgiref.util import setup_testing_defaults

import pytest
from django.db import connection
from django.test import Client, override_settings

from bench import ceiling_wsgi
from bench.api import make_ceiling_table
from events.feed import read_feed
from healix.models import OrganizationAPIKey

pytestmark = pytest.mark.django_db(transaction=True)  # the ceiling reads what was committed


@pytest.fixture
def ceiling():
    """The ceiling's table and environment, as bench/api.py makes them; gone afterwards."""
    names = ("HEALIX_CEILING_DSN", "HEALIX_CEILING_FEED_SQL")
    saved = {name: os.environ.get(name) for name in names}
    make_ceiling_table()
    yield
    if ceiling_wsgi._connection is not None:
        ceiling_wsgi._connection.close()
        ceiling_wsgi._connection = None
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {ceiling_wsgi.CEILING_TABLE}")
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def key_of(organization) -> str:
    _row, key = OrganizationAPIKey.objects.create_key(
        organization=organization, name="ceiling", scopes=["events:read", "inbound:write"]
    )
    return key


def call_ceiling(method: str, path: str, key: str, body: bytes, query: str) -> tuple[int, bytes]:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD=method,
        PATH_INFO=path,
        QUERY_STRING=query,
        CONTENT_LENGTH=str(len(body)),
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    environ["wsgi.input"] = io.BytesIO(body)
    answer = {}

    def start_response(status, _headers):
        answer["status"] = status

    chunks = ceiling_wsgi.application(environ, start_response)
    return int(answer["status"].split()[0]), b"".join(chunks)


@override_settings(ROOT_URLCONF="bench.floor_django")
def call_floor(method: str, path: str, key: str, body: bytes, query: str) -> tuple[int, bytes]:
    """Through Django's whole request cycle, as bench/floor_settings.py serves it."""
    url = f"{path}?{query}" if query else path
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, body, content_type="application/json")
    return response.status_code, response.content


@pytest.fixture(params=[call_ceiling, call_floor], ids=["ceiling", "floor"])
def reference(request):
    """One of the two references, called as call(method, path, key, body=b"", query="")."""

    def call(method: str, path: str, key: str, body: bytes = b"", query: str = ""):
        return request.param(method, path, key, body, query)

    return call


def ceiling_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT organization_id, subject, payload, duplicate_count "
            f"FROM {ceiling_wsgi.CEILING_TABLE}"
        )
        return cursor.fetchall()


def test_the_inbound_post_stores_one_row_a_body_and_counts_a_copy_on_it(ceiling, reference, org):
    # Given a key of the organization
    key = key_of(org)
    body = json.dumps({"planId": "p-1", "timeSlot": "9:00"}).encode()

    # When the same body is posted twice, keys in another order the second time
    first = reference("POST", "/api/v1/inbound/appointment.booked/", key, body)
    copy = reference(
        "POST",
        "/api/v1/inbound/appointment.booked/",
        key,
        body=json.dumps({"timeSlot": "9:00", "planId": "p-1"}).encode(),
    )

    # Then each is accepted, and one committed row holds the data with the copy counted on it
    assert (first[0], copy[0]) == (202, 202)
    [(organization_id, subject, payload, duplicates)] = ceiling_rows()
    assert (organization_id, subject, duplicates) == (org.pk, "appointment.booked", 1)
    stored = json.loads(payload) if isinstance(payload, str) else payload
    assert stored == {"planId": "p-1", "timeSlot": "9:00"}


def test_an_unknown_key_stores_nothing(ceiling, reference, org):
    # When a key prefix that names no key posts
    status, _body = reference("POST", "/api/v1/inbound/x/", "nokey123.secret", b'{"a": 1}')

    # Then it is refused and nothing is written
    assert status == 401
    assert ceiling_rows() == []


def test_the_feed_answers_what_the_feed_reads_for_the_keys_organization(
    ceiling, reference, plan, other_org
):
    # Given an organization with events (the plan's), and another organization's key
    organization = plan.organization
    expected = [json.loads(envelope) for _position, envelope in read_feed(organization).events]
    assert expected, "the plan made no event"

    # When each key reads the feed from the start
    status, body = reference(
        "GET", "/api/v1/events/", key_of(organization), query="after=0.0&limit=100"
    )
    _other_status, other_body = reference(
        "GET", "/api/v1/events/", key_of(other_org), query="after=0.0&limit=100"
    )

    # Then the first gets the same envelopes as events/feed.py reads, the other none of them
    assert status == 200
    assert json.loads(body)["events"] == expected
    assert json.loads(other_body)["events"] == []
