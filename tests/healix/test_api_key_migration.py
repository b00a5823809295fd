"""Migration 0006: keys made before scopes existed keep exactly the inbound API, and get a
service account of their organization."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from healix.models import OrganizationAPIKey

BEFORE_SCOPES = [("healix", "0005_organizationapikey")]


@pytest.mark.django_db(transaction=True)
def test_an_old_key_gets_the_inbound_scopes_and_a_service_account(org):
    # Given a key as it was stored before scopes
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_SCOPES)
    old = executor.loader.project_state(BEFORE_SCOPES).apps
    old.get_model("healix", "OrganizationAPIKey").objects.create(
        id="oldkey01.hash",
        prefix="oldkey01",
        hashed_key="x",
        name="scheduler",
        organization_id=org.pk,
    )
    # When the migrations run
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # Then it may use the inbound API and nothing else, acting as its own account
    key = OrganizationAPIKey.objects.get(prefix="oldkey01")
    assert key.scopes == ["inbound:read", "inbound:write"]
    assert key.user.organization_id == org.pk
    assert key.user.username == "api-key-oldkey01" and not key.user.has_usable_password()
