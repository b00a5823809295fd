"""POST /api/v1/bus-credentials/ and the API key's admin page: what a partner needs to
connect to the bus, down to a nats-py program that runs as shown."""

import asyncio
import os
import subprocess
import sys
import time

import nats
import pytest
from django.urls import reverse

from bus.credentials import FETCH_SECONDS
from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from plans import services
from tests.fixtures.integrations import key_client, make_api_key
from tests.fixtures.waiting import PATIENCE, wait_until

URL = "/api/v1/bus-credentials/"
# Issue 16, item 3: the example must outlive several idle fetches, not only the first events.
IDLE_FETCHES = 4


def prefix_of(key: str) -> str:
    return key.partition(".")[0]


@pytest.mark.django_db
def test_a_cluster_is_named_server_by_server_without_the_platforms_password(org, settings):
    # Given NATS_URL naming the three nodes of a cluster, with the platform's own password
    settings.HEALIX_BUS_PUBLIC_URL = ""
    settings.NATS_URL = ",".join(f"nats://healix:s3cret@10.0.0.{n}:4222" for n in (1, 2, 3))
    # When a key asks for its bus credentials
    body = key_client(make_api_key(org)).post(URL).json()
    # Then every node is named, the password none of them
    nodes = [f"nats://10.0.0.{n}:4222" for n in (1, 2, 3)]
    assert body["url"] == ",".join(nodes)
    assert "s3cret" not in str(body)
    # and the example program connects to any of them
    assert f"servers={nodes!r}".replace("'", '"') in body["example"]


@pytest.mark.django_db
def test_credentials_name_the_keys_organization_only(org, settings):
    # Given a key of hrh with every scope
    settings.HEALIX_BUS_PUBLIC_URL = "nats://bus.example.test:4222"
    key = make_api_key(org)
    prefix = prefix_of(key)
    # When it asks for its bus credentials
    response = key_client(key).post(URL)
    # Then it gets the URL, how to present the key, and subjects of hrh only
    assert response.status_code == 200
    body = response.json()
    assert body["url"] == "nats://bus.example.test:4222"
    assert body["authentication"]["method"] == "token"
    assert body["organization"] == "hrh"
    assert body["inboxPrefix"] == f"_INBOX.hrh.{prefix}"
    assert body["publish"][0] == "healix.hrh.inbound.>"
    assert body["subscribe"] == ["healix.hrh.*", f"_INBOX.hrh.{prefix}.>"]
    assert all(".hrh." in s or f"hrh_{prefix}" in s for s in body["publish"])
    assert body["consumer"] == {
        "stream": "HEALIX_EVENTS",
        "name": f"hrh_{prefix}",
        "filterSubject": "healix.hrh.*",
    }
    assert body["revocationSeconds"] == settings.HEALIX_BUS_REVOCATION_CHECK_SECONDS
    assert body["limits"] == {
        "connections": settings.HEALIX_BUS_LIMITS.connections_per_key,
        "subscriptionsPerConnection": settings.HEALIX_BUS_LIMITS.subscriptions,
        "payloadBytes": settings.HEALIX_BUS_LIMITS.payload_bytes,
        "unackedEvents": settings.HEALIX_BUS_LIMITS.ack_pending,
    }
    assert 'token=os.environ["HEALIX_API_KEY"]' in body["example"]
    assert key not in response.content.decode(), "the key is never echoed"


@pytest.mark.django_db
def test_credentials_follow_the_scopes(org):
    writer = make_api_key(org, "writer", scopes=[Scope.INBOUND_WRITE])
    body = key_client(writer).post(URL).json()
    assert body["publish"] == ["healix.hrh.inbound.>"]
    assert body["subscribe"] == [f"_INBOX.hrh.{prefix_of(writer)}.>"]
    assert body["consumer"] is None
    assert "pull_subscribe" not in body["example"]


@pytest.mark.django_db
def test_key_without_bus_scopes_gets_403_and_no_key_401(org):
    reader_of_plans = make_api_key(org, "plans", scopes=[Scope.PLANS_READ])
    refused = key_client(reader_of_plans).post(URL)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "inbound:write nor events:read" in refused.json()["detail"]
    assert key_client(None).post(URL).status_code == 401
    assert key_client("nope.nope").post(URL).status_code == 401


@pytest.mark.django_db
def test_credentials_are_answered_to_post_only(org):
    assert key_client(make_api_key(org)).get(URL).status_code == 405


@pytest.mark.django_db
def test_admin_shows_the_same_on_the_api_key_page(client, superuser, org):
    key = make_api_key(org)
    row = OrganizationAPIKey.objects.get_from_key(key)
    client.force_login(superuser)
    page = client.get(reverse("admin:healix_organizationapikey_change", args=[row.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Bus access (NATS)" in text
    assert f"hrh_{prefix_of(key)}" in text
    assert "healix.hrh.inbound.&gt;" in text
    assert "pull_subscribe" in text


@pytest.mark.django_db(transaction=True)
def test_the_example_program_keeps_receiving_events_across_idle_fetches(
    start_bus_auth, start_relay, nats_server, org, actor, template, patient, nurse, tmp_path
):
    # Given the callout running, and the example the endpoint gives a key of hrh
    key = make_api_key(org)
    start_bus_auth()
    example = key_client(key).post(URL).json()["example"]
    program = tmp_path / "healix_bus.py"
    program.write_text(example)
    log = tmp_path / "example.log"
    # When the program runs with the key in its environment, and a plan is then created
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, str(program)],
            env={**os.environ, "HEALIX_API_KEY": key},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        consumer = f"hrh_{prefix_of(key)}"
        wait_until(lambda: has_consumer(nats_server.url, consumer) or process.poll() is not None)
        assert process.poll() is None, log.read_text()
        assign_plan(actor, template, patient, nurse, "Seen by the example")
        start_relay()
        # Then it prints hrh's planCreated
        wait_until(lambda: log.read_text().count("healix.hrh.planCreated") == 1, PATIENCE)
        # and when nothing happens for several of its fetches' timeouts (issue 16, item 3: an
        # idle fetch may end in a plain asyncio.TimeoutError, which killed the program)
        time.sleep(IDLE_FETCHES * FETCH_SECONDS + 1)
        assert process.poll() is None, log.read_text()
        # it is still there for the next event
        assign_plan(actor, template, patient, nurse, "Seen after a quiet while")
        wait_until(lambda: log.read_text().count("healix.hrh.planCreated") == 2, PATIENCE)
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        process.terminate()
        process.wait(PATIENCE)


def assign_plan(actor, template, patient, nurse, title: str) -> None:
    services.assign_plan(
        actor=actor,
        template=template,
        user=patient,
        role_assignments={"Nurse": nurse},
        title=title,
    )


def has_consumer(url: str, name: str) -> bool:
    async def look() -> bool:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().consumer_info("HEALIX_EVENTS", name)
            return True
        except nats.js.errors.NotFoundError:
            return False
        finally:
            await nc.close()

    return asyncio.run(look())


@pytest.mark.django_db
def test_openapi_document_describes_the_endpoint(client):
    document = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    operation = document.json()["paths"]["/api/v1/bus-credentials/"]["post"]
    assert operation["operationId"] == "bus_credentials"
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"url", "publish", "subscribe", "consumer", "example"} <= set(answer["required"])
    assert {"401", "403"} <= set(operation["responses"])
