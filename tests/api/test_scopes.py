"""Scopes: every endpoint refuses a key without its scope (403 naming it), and admits a key
with only that scope."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from healix.api.scopes import Scope
from healix.models import OrganizationAPIKey
from tests.fixtures.api import ENDPOINTS, client_with_scopes
from tests.fixtures.integrations import key_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_refuses_a_key_without_its_scope(endpoint, world, org):
    # Given a key with every scope but the one this endpoint needs
    client = client_with_scopes(org, [s for s in Scope.values if s != endpoint.scope])
    before = world.fingerprint()
    # When it calls the endpoint
    response = endpoint.call(client, world)
    # Then it is refused, naming the missing scope, and nothing changed
    assert response.status_code == 403
    body = response.json()
    assert body["missingScope"] == endpoint.scope
    assert endpoint.scope in body["detail"]
    assert world.fingerprint() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_admits_a_key_with_only_its_scope(endpoint, world, org):
    client = client_with_scopes(org, [endpoint.scope])
    response = endpoint.call(client, world)
    assert response.status_code in (200, 201, 202, 204, 207), response.content


# Operations that need one of several scopes, tested where they are built.
EITHER_SCOPE = {("POST", "/api/v1/bus-credentials/")}  # tests/bus/test_credentials.py


def test_the_catalogue_names_every_authenticated_operation(client):
    # A new endpoint must join tests/fixtures/api.py (or EITHER_SCOPE), or this fails
    schema = client.get("/api/v1/schema/?format=json").json()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if any(operation.get("security", []))
    }
    catalogue = {(endpoint.method, _template(endpoint.path)) for endpoint in ENDPOINTS}
    assert operations == catalogue | EITHER_SCOPE


def _template(path: str) -> str:
    return (
        path.replace("{plan}", "{id}")
        .replace("{assignment}", "{id}")
        .replace("{item}", "{id}")
        .replace("{integration}", "{id}")
        .replace("{webhook}", "{id}")
        .replace("{delivery}", "{id}")
        .replace("{inbound}", "{key}")
        .replace("aiEngineTimeSlot", "{key}")
    )


def test_a_key_made_before_scopes_keeps_the_inbound_api_only(world, org):
    # The migration gave old keys inbound:read and inbound:write (healix.api.scopes.LEGACY_SCOPES)
    client = client_with_scopes(org, ["inbound:read", "inbound:write"])
    assert client.get("/api/v1/inbound/").status_code == 200
    assert client.get("/api/v1/plans/").json()["missingScope"] == "plans:read"


def test_create_api_key_takes_scopes(org):
    out = StringIO()
    call_command(
        "create_api_key",
        "--org",
        "hrh",
        "--name",
        "poller",
        "--scope",
        "events:read,plans:read",
        "--scope",
        "plans:read",
        stdout=out,
    )
    stored = OrganizationAPIKey.objects.get(name="poller")
    assert stored.scopes == ["events:read", "plans:read"]
    assert key_client(out.getvalue().strip()).get("/api/v1/events/").status_code == 200
    call_command("create_api_key", "--org", "hrh", "--name", "all", "--scope", "all", stdout=out)
    assert OrganizationAPIKey.objects.get(name="all").scopes == list(Scope.values)
    with pytest.raises(CommandError, match="Give at least one --scope"):
        call_command("create_api_key", "--org", "hrh", "--name", "none")
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_key", "--org", "hrh", "--name", "bad", "--scope", "plans:rw")


def test_the_admin_shows_prefix_scopes_and_last_use(hrh_client, world):
    stored = OrganizationAPIKey.objects.get(name="hrh-all")
    assert stored.last_used_at is None
    world.client.get("/api/v1/plans/")
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    page = hrh_client.get(reverse("admin:healix_organizationapikey_changelist")).content.decode()
    assert stored.prefix in page and "plans:write" in page
    change = hrh_client.get(reverse("admin:healix_organizationapikey_change", args=[stored.pk]))
    assert change.status_code == 200 and b"Last used" in change.content


def test_a_keys_use_is_written_once_a_minute_at_most(world):
    # Given a key used once
    world.client.get("/api/v1/plans/")
    first = OrganizationAPIKey.objects.get(name="hrh-all").last_used_at
    # When it is used again at once, then once more after its last use is over a minute old
    world.client.get("/api/v1/plans/")
    again = OrganizationAPIKey.objects.get(name="hrh-all").last_used_at
    long_ago = first - timedelta(minutes=2)
    OrganizationAPIKey.objects.filter(name="hrh-all").update(last_used_at=long_ago)
    world.client.get("/api/v1/plans/")
    later = OrganizationAPIKey.objects.get(name="hrh-all").last_used_at
    # Then the second use wrote nothing, and the third wrote its time
    assert first is not None and again == first
    assert later > first


def test_the_admin_requires_a_scope(hrh_client, org):
    response = hrh_client.post(
        reverse("admin:healix_organizationapikey_add"),
        {"name": "nothing", "expiry_date_0": "", "expiry_date_1": ""},
    )
    assert response.status_code == 200 and not OrganizationAPIKey.objects.filter(name="nothing")


@pytest.fixture
def hrh_client(client, hrh_administrator):
    client.force_login(hrh_administrator)
    return client
