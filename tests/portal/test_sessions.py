"""Magic links: issued by an administrator (admin action) or over the API (webhooks:admin),
single use, confirmed by a POST, limited in time, revocable; and the migration that made
partners of the existing integrations."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from healix.models import OrganizationAPIKey
from integrations.models import HttpIntegration
from portal import services
from portal.models import PortalSession
from tests.fixtures.integrations import key_client, make_api_key

pytestmark = pytest.mark.django_db


def test_a_link_is_spent_by_the_confirming_post_not_by_a_get(partner):
    # Given a fresh link
    link = services.issue_session(partner)
    client = Client()
    # When a link scanner fetches it twice, then the partner confirms
    assert b"Continue" in client.get(link.path).content
    assert client.get(link.path).status_code == 200
    assert client.post(link.path).status_code == 302
    # Then the session is on, limited to the partner, and the link is spent
    home = client.get("/portal/")
    assert home.status_code == 200 and b"Acme Scheduling" in home.content
    assert Client().post(link.path).status_code == 403
    assert PortalSession.objects.get().used_at is not None
    # Only the token's hash is stored
    assert link.token not in str(PortalSession.objects.values().get())


def test_expired_and_revoked_sessions_end_at_the_next_click(partner):
    expired = services.issue_session(partner)
    PortalSession.objects.filter(pk=expired.session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().post(expired.path).status_code == 403

    link = services.issue_session(partner)
    client = Client()
    client.post(link.path)
    assert client.get("/portal/endpoints/").status_code == 200
    services.revoke_session(link.session)
    assert client.get("/portal/endpoints/").status_code == 403
    # A revoked link that was never followed is refused too
    unused = services.issue_session(partner)
    services.revoke_session(unused.session)
    assert Client().post(unused.path).status_code == 403


def test_without_a_session_every_page_is_refused(db):
    for url in ("/portal/", "/portal/endpoints/", "/portal/inbound/", "/portal/bus/"):
        assert Client().get(url).status_code == 403


def test_the_api_issues_a_link_for_a_partner_of_the_keys_organization(partner, foreign_partner):
    client = key_client(make_api_key(partner.organization, scopes=["webhooks:admin"]))
    answer = client.post(
        "/api/v1/portal-sessions/",
        json.dumps({"partnerId": partner.pk, "access": "read-write", "expiresInSeconds": 600}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["access"] == "read-write" and body["partnerId"] == partner.pk
    path = re.sub(r"^https?://[^/]+", "", body["url"])
    browser = Client()
    assert browser.post(path).status_code == 302
    assert browser.get("/portal/").status_code == 200
    session = PortalSession.objects.get(pk=body["id"])
    assert (
        timedelta(seconds=590) < session.expires_at - session.created_at <= timedelta(seconds=600)
    )
    # Another organization's partner is a 400 at its place, worded as one that is nowhere
    refused = client.post(
        "/api/v1/portal-sessions/",
        json.dumps({"partnerId": foreign_partner.pk}),
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {"pointer": "#/partnerId", "detail": f"No partner {foreign_partner.pk} here."}
    ]
    # And a key without webhooks:admin may not issue links
    reader = key_client(make_api_key(partner.organization, "reader", scopes=["inbound:read"]))
    denied = reader.post(
        "/api/v1/portal-sessions/",
        json.dumps({"partnerId": partner.pk}),
        content_type="application/json",
    )
    assert denied.status_code == 403 and denied.json()["missingScope"] == "webhooks:admin"


def test_an_administrator_issues_a_link_from_the_partner_list(hrh_administrator, partner):
    client = Client()
    client.force_login(hrh_administrator)
    changelist = "/admin/portal/partner/"
    form = client.post(changelist, {"action": "issue_link", "_selected_action": [partner.pk]})
    assert form.status_code == 200 and b"Issue" in form.content
    done = client.post(
        changelist,
        {
            "action": "issue_link",
            "_selected_action": [partner.pk],
            "access": "read-only",
            "minutes": "30",
        },
        follow=True,
    )
    message = re.search(rb"(/portal/start/[^/\s]+/)", done.content)
    assert message, done.content
    browser = Client()
    assert browser.post(message.group(1).decode()).status_code == 302
    assert browser.get("/portal/").status_code == 200
    session = PortalSession.objects.get()
    assert session.access == "read-only" and session.created_by == hrh_administrator
    # Revoked from the sessions' list, it ends at once
    client.post(
        "/admin/portal/portalsession/", {"action": "revoke", "_selected_action": [session.pk]}
    )
    assert browser.get("/portal/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_one_partner_per_partner_name_of_each_organization(org, other_org):
    before = [("portal", "0001_initial"), ("integrations", "0015_httpintegration_partner")]
    executor = MigrationExecutor(connection)
    executor.migrate([("portal", "0001_initial")])
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Integration = old.get_model("integrations", "HttpIntegration")
    Key = old.get_model("healix", "OrganizationAPIKey")
    for organization, name in [(org, "Acme"), (org, "acme "), (org, "Beta"), (other_org, "Acme")]:
        Integration.objects.create(
            organization_id=organization.pk, partner_name=name, url="https://a.example/"
        )
    Key.objects.create(id="k1", prefix="k1", hashed_key="x", name="Beta", organization_id=org.pk)
    Key.objects.create(id="k2", prefix="k2", hashed_key="x", name="ops", organization_id=org.pk)
    # When the migrations run
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # Then every integration has its organization's partner of its name, none lost
    rows = HttpIntegration.objects.select_related("partner").order_by("partner_name")
    assert all(row.partner.organization_id == row.organization_id for row in rows)
    assert len({row.partner_id for row in rows if row.organization_id == org.pk}) == 2
    assert [r.partner_name for r in rows] == ["Acme", "Acme", "Beta", "acme "]
    keys = {key.prefix: key.partner for key in OrganizationAPIKey.objects.all()}
    assert str(keys["k1"]) == "Beta" and keys["k2"] is None


def test_a_webhook_registered_with_a_partners_key_is_the_partners(partner, webhook_settings):
    client = key_client(
        make_api_key(partner.organization, "acme", scopes=["webhooks:admin"], partner=partner)
    )
    answer = client.post(
        "/api/v1/webhooks/",
        json.dumps({"partnerName": "Acme", "url": "http://127.0.0.1:9/hook"}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    assert HttpIntegration.objects.get().partner == partner
