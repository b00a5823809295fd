"""A portal session of partner P1 of organization A reaches nothing of partner P2 of A, nor of
organization B's partner: not by URL (their ids guessed right), not by a form field naming
their rows. Read-only sessions write nothing; used, expired and revoked links start nothing."""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from healix.models import Organization
from integrations.inbound.services import ingest
from integrations.models import (
    DeliveryStatus,
    HttpIntegration,
    InboundEvent,
    IntegrationDefinition,
    IntegrationField,
    WebhookDelivery,
)
from integrations.webhooks.api.serializers import WebhookSerializer
from portal import services
from portal.models import Partner, PartnerSubject, PortalSession
from tests.fixtures.domain import make_template
from tests.fixtures.integrations import make_api_key
from tests.fixtures.portal import make_partner, portal_client
from tests.fixtures.webhooks import make_delivery, make_integration

pytestmark = pytest.mark.django_db


@dataclass
class Holdings:
    partner: Partner
    endpoint: HttpIntegration
    delivery: WebhookDelivery
    inbound: InboundEvent | None
    key_prefix: str


def _holdings(organization: Organization, name: str, subject: str | None) -> Holdings:
    partner = make_partner(organization, name)
    endpoint, _ = make_integration(
        organization, f"http://127.0.0.1:9/{name.replace(' ', '-')}", partner_name=name
    )
    services.set_members(partner, integrations=[endpoint])
    key = make_api_key(organization, name, scopes=["inbound:write", "events:read"])
    inbound = None
    if subject:
        services.set_members(
            partner, api_keys=organization.api_keys.filter(name=name), subjects=[subject]
        )
        inbound_id = ingest(organization, subject, '{"potassium": "x"}', "rest").event_id
        inbound = InboundEvent.objects.get(pk=inbound_id)
    return Holdings(
        partner,
        endpoint,
        make_delivery(endpoint, status=DeliveryStatus.FAILED),
        inbound,
        key.partition(".")[0],
    )


def _subject(organization: Organization, subject: str) -> None:
    template = make_template(organization, f"t-{subject}")
    definition = IntegrationDefinition.objects.create(
        organization=organization, template=template, subject=subject
    )
    IntegrationField.objects.create(
        definition=definition, name="potassium", field_type="number", required=True
    )


@pytest.fixture
def world(org, other_org, webhook_settings):
    _subject(org, "labResult")
    _subject(org, "vitalSigns")
    _subject(other_org, "otherResult")
    return {
        "p1": _holdings(org, "P one", "labResult"),
        "p2": _holdings(org, "P two", "vitalSigns"),
        "foreign": _holdings(other_org, "Q", "otherResult"),
    }


def _fingerprint() -> list:
    return [
        sorted(
            HttpIntegration.objects.values_list("id", "url", "is_active", "secret", "updated_at"),
            key=str,
        ),
        # The filters as the API reads them, whatever tables hold them.
        sorted((str(w.pk), WebhookSerializer(w).data) for w in HttpIntegration.objects.all()),
        sorted(WebhookDelivery.objects.values_list("id", "status", "next_attempt_at"), key=str),
        PortalSession.objects.count(),
    ]


def _pages(h: Holdings) -> list[str]:
    pages = [f"/portal/endpoints/{h.endpoint.pk}/", f"/portal/deliveries/{h.delivery.pk}/"]
    return pages + ([f"/portal/inbound/{h.inbound.pk}/"] if h.inbound else [])


def _writes(h: Holdings) -> list[tuple[str, dict]]:
    endpoint = f"/portal/endpoints/{h.endpoint.pk}"
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    return [
        (f"{endpoint}/edit/", {"url": "https://evil.example/", "planCreatedMode": "all"}),
        (f"{endpoint}/rotate-secret/", {}),
        (f"{endpoint}/test/", {}),
        (f"{endpoint}/replay/", {"since": since}),
        (f"{endpoint}/delete/", {}),
        (f"/portal/deliveries/{h.delivery.pk}/retry/", {}),
    ]


@pytest.mark.parametrize("victim", ["p2", "foreign"])
def test_another_partners_rows_are_not_found_by_url(world, victim):
    client = portal_client(world["p1"].partner)
    before = _fingerprint()
    for url in _pages(world[victim]):
        assert client.get(url).status_code == 404, url
    for url, data in _writes(world[victim]):
        assert client.post(url, data).status_code == 404, url
    assert _fingerprint() == before
    # And the lists never show them
    victim_holdings = world[victim]
    for page in ("/portal/endpoints/", "/portal/bus/", "/portal/inbound/"):
        text = client.get(page).content.decode()
        assert victim_holdings.endpoint.url not in text
        assert f"Key {victim_holdings.key_prefix}" not in text
        if victim_holdings.inbound:
            assert str(victim_holdings.inbound.pk) not in text


def test_a_form_naming_another_organizations_rows_is_refused(world, other_org):
    p1 = world["p1"]
    foreign_template = make_template(other_org, "theirs")
    client = portal_client(p1.partner)
    before = _fingerprint()
    for url in (f"/portal/endpoints/{p1.endpoint.pk}/edit/", "/portal/endpoints/create/"):
        answer = client.post(
            url,
            {"url": p1.endpoint.url, "planCreated": [str(foreign_template.pk)]},
        )
        assert answer.status_code == 400
        assert f"No template {foreign_template.pk} here." in answer.content.decode()
    assert _fingerprint() == before
    # A subject of another organization cannot be tried either
    tried = client.post("/portal/inbound/try/", {"subject": "otherResult", "body": "{}"})
    assert "Not your subject." in tried.content.decode()


def test_a_partner_sees_its_own_subjects_only_not_another_partners_of_its_organization(world):
    # Both partners' keys may send inbound events to the organization; each sees its subject
    text = portal_client(world["p2"].partner).get("/portal/inbound/").content.decode()
    assert "vitalSigns" in text and str(world["p2"].inbound.pk) in text
    assert "labResult" not in text and str(world["p1"].inbound.pk) not in text
    tried = portal_client(world["p2"].partner).post(
        "/portal/inbound/try/", {"subject": "labResult", "body": "{}"}
    )
    assert "Not your subject." in tried.content.decode()


def test_a_subject_is_one_partners_only(world):
    # Neither the services nor PostgreSQL let a second partner take a subject
    with pytest.raises(ValidationError, match="labResult is already P one's"):
        services.set_members(world["p2"].partner, subjects=["labResult"])
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerSubject.objects.create(
            organization=world["p2"].partner.organization,
            partner=world["p2"].partner,
            subject="labResult",
        )
    # nor a partner of another organization (its composite key)
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerSubject.objects.create(
            organization=world["p1"].partner.organization,
            partner=world["foreign"].partner,
            subject="otherResult",
        )
    assert list(world["p2"].partner.subjects.values_list("subject", flat=True)) == ["vitalSigns"]


def test_a_read_only_session_writes_nothing(world):
    p1 = world["p1"]
    client = portal_client(p1.partner, access="read-only")
    before = _fingerprint()
    for url, data in [*_writes(p1), ("/portal/endpoints/create/", {"url": "https://a.example/"})]:
        assert client.post(url, data).status_code == 403, url
    assert client.get("/portal/endpoints/new/").status_code == 403
    page = client.get(f"/portal/endpoints/{p1.endpoint.pk}/").content.decode()
    assert "Rotate secret" not in page and "Save" not in page
    assert _fingerprint() == before


def test_used_expired_and_revoked_links_start_nothing(world):
    partner = world["p1"].partner
    used = services.issue_session(partner)
    Client().post(used.path)
    expired = services.issue_session(partner)
    PortalSession.objects.filter(pk=expired.session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = services.issue_session(partner)
    services.revoke_session(revoked.session)
    for link in (used, expired, revoked):
        browser = Client()
        assert browser.post(link.path).status_code == 403
        assert browser.get("/portal/").status_code == 403
    # A made-up token, and a session id planted in a cookie by hand, start nothing either
    assert Client().post("/portal/start/not-a-token/").status_code == 403
    browser = Client()
    session = browser.session
    session["healix_portal_session"] = str(revoked.session.pk)
    session.save()
    assert browser.get("/portal/").status_code == 403


def test_the_api_issues_links_for_its_own_organizations_partners_only(world):
    key = make_api_key(world["p1"].partner.organization, "admin", scopes=["webhooks:admin"])
    client = Client(headers={"Authorization": f"Api-Key {key}"})
    answer = client.post(
        "/api/v1/portal-sessions/",
        json.dumps({"partnerId": world["foreign"].partner.pk}),
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert not PortalSession.objects.filter(partner=world["foreign"].partner).exists()
