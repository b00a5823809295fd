"""API keys' stored hashes stay out of admin URLs (issue 15, item 8).

djangorestframework-api-key names a key "<prefix>.<hashed key>", so every admin link, redirect
and history entry of a key carried its stored hash into browsers' histories, proxies and access
logs: an offline guessing target. A key is now named by its prefix alone (unique, and shown in
the list anyway); the hash stays in its column, where verification reads it.
"""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from healix.models import ApiRateWindow, OrganizationAPIKey, UserType
from tests.fixtures.domain import make_user
from tests.fixtures.integrations import key_client, make_api_key

CHANGELIST = reverse("admin:healix_organizationapikey_changelist")
ADD = reverse("admin:healix_organizationapikey_add")


@pytest.fixture
def other_administrator(other_org, editor_groups):
    user = make_user(other_org, "other-administrator", UserType.ADMIN, is_staff=True)
    user.groups.add(editor_groups["Administrators"])
    return user


def hashes() -> list[str]:
    return list(OrganizationAPIKey.objects.values_list("hashed_key", flat=True))


def admin_url(name: str, key: OrganizationAPIKey) -> str:
    return reverse(f"admin:healix_organizationapikey_{name}", args=[key.pk])


def key_of(organization) -> OrganizationAPIKey:
    return OrganizationAPIKey.objects.get(organization=organization)


@pytest.mark.django_db
def test_no_admin_page_link_or_redirect_of_a_key_carries_its_hash(
    client, org, other_org, hrh_administrator, other_administrator, superuser
):
    # Given a key in each organization
    make_api_key(org, "hrh partner")
    make_api_key(other_org, "their partner")
    ours, theirs = key_of(org), key_of(other_org)
    seen: list[str] = []

    def visit(response) -> None:
        seen.append(response.content.decode() + response.get("Location", ""))

    # When hrh's administrator lists, opens, changes (and so logs), and asks to delete its key,
    # and makes a new one
    client.force_login(hrh_administrator)
    visit(client.get(CHANGELIST))
    page = client.get(admin_url("change", ours))
    assert page.status_code == 200
    visit(page)
    visit(
        client.post(
            admin_url("change", ours),
            {"name": "renamed", "scopes": ["inbound:read"], "expiry_date_0": "", "_continue": "1"},
        )
    )
    visit(client.get(admin_url("history", ours)))
    visit(client.get(admin_url("delete", ours)))
    visit(client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [ours.pk]}))
    added = client.post(ADD, {"name": "new partner", "scopes": ["inbound:write"], "_continue": 1})
    assert added.status_code == 302  # to the new key's own page, named in the redirect
    visit(added)
    visit(client.get(added["Location"]))
    visit(client.get(reverse("admin:index")))  # "Recent actions" links to the keys changed
    # ... and the platform operator looks at every organization's keys
    client.force_login(superuser)
    visit(client.get(CHANGELIST))
    visit(client.get(admin_url("change", theirs)))
    # Then no page, link or redirect holds any stored hash
    for text in seen:
        for hashed in hashes():
            assert hashed not in text
    # And the change was made: the URL named the key well enough
    assert OrganizationAPIKey.objects.get(pk=ours.pk).name == "renamed"
    assert LogEntry.objects.filter(object_id=ours.pk).exists()
    # And the other organization's administrator cannot reach hrh's key by its name either
    client.force_login(other_administrator)
    assert client.get(admin_url("change", ours)).status_code == 404
    assert ours.prefix not in client.get(CHANGELIST).content.decode()


BEFORE = [("healix", "0009_encrypt_idempotent_answers")]


@pytest.mark.django_db(transaction=True)
def test_an_existing_key_is_renamed_by_its_prefix_and_keeps_working(org, other_org, superuser):
    # Given keys stored as the library names them, with a throttling window and a history
    # entry each, in two organizations
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    generator = OrganizationAPIKey.objects.key_generator
    keys = {}
    for organization in (org, other_org):
        key, prefix, hashed = generator.generate()
        old.get_model("healix", "OrganizationAPIKey").objects.create(
            id=f"{prefix}.{hashed}",
            prefix=prefix,
            hashed_key=hashed,
            name="partner",
            organization_id=organization.pk,
            scopes=["webhooks:admin"],
        )
        ApiRateWindow.objects.create(
            api_key_id=f"{prefix}.{hashed}", window_start="2026-01-01T00:00Z", requests=3
        )
        LogEntry.objects.create(
            user=superuser,
            content_type_id=_key_content_type(),
            object_id=f"{prefix}.{hashed}",
            object_repr="partner",
            action_flag=2,
        )
        keys[prefix] = (key, hashed)
    # When the migrations run
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # Then each key, its window and its history are named by the prefix alone
    for prefix, (key, hashed) in keys.items():
        assert OrganizationAPIKey.objects.get(prefix=prefix).pk == prefix
        assert ApiRateWindow.objects.get(api_key_id=prefix).requests == 3
        assert not LogEntry.objects.filter(object_id__contains=hashed).exists()
        assert re.fullmatch(r"[A-Za-z0-9]+", prefix)
        # And the key still authenticates
        assert key_client(key).get("/api/v1/webhooks/").status_code == 200


def _key_content_type() -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(OrganizationAPIKey).pk
