"""The portal's pages, as a partner's read-write session uses them: its endpoints with their
health, filters edited through the API's own validation, secret rotation with the overlap
shown, test events, retries, replays, deletion; the event catalog; inbound subjects, events
and "try a payload"; the keys' bus credentials."""

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from events.contract import envelope_errors
from integrations.inbound.services import ingest
from integrations.models import (
    AttemptOutcome,
    DeliveryStatus,
    HttpIntegration,
    InboundEvent,
    IntegrationDefinition,
    IntegrationField,
    WebhookAttempt,
    WebhookDelivery,
)
from integrations.webhooks.api.serializers import WebhookSerializer
from portal import services
from portal.catalog import catalog
from tests.fixtures.integrations import make_api_key
from tests.fixtures.webhooks import make_delivery, make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(partner, webhook_settings, receiver) -> HttpIntegration:
    integration, _secret = make_integration(partner.organization, receiver.url())
    services.set_members(partner, integrations=[integration])
    return integration


def _form(endpoint: HttpIntegration, **changes) -> dict:
    values = {"url": endpoint.url, "isActive": "on", "conditionRows": "1"}
    values.update({f"{name}Mode": "chosen" for name in ("planCreated", "planUpdated")})
    values.update({"formSubmittedMode": "chosen", "statusUpdatedMode": "chosen"})
    values.update(changes)
    return values


def test_the_list_shows_the_partners_endpoints_with_the_last_days_health(
    partner, endpoint, portal_as
):
    delivery = make_delivery(endpoint, status=DeliveryStatus.FAILED)
    now = timezone.now()
    for number, (outcome, ms) in enumerate(
        [(AttemptOutcome.RETRY, 100), (AttemptOutcome.SUCCEEDED, 300), ("retry", 500)], 1
    ):
        WebhookAttempt.objects.create(
            delivery=delivery, number=number, started_at=now, duration_ms=ms, outcome=outcome
        )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=9,
        started_at=now - timedelta(days=2),
        duration_ms=9000,
        outcome="retry",
    )
    page = portal_as(partner).get("/portal/endpoints/")
    text = page.content.decode()
    assert endpoint.url in text
    assert "33% of 3" in text and "300 / 480 ms" in text


def test_filters_are_edited_through_the_apis_validation(partner, endpoint, portal_as, template):
    client = portal_as(partner)
    url = f"/portal/endpoints/{endpoint.pk}/edit/"
    # A condition that does not parse is refused at its JSON pointer, nothing saved
    bad = client.post(
        url,
        _form(
            endpoint,
            **{
                "conditions-0-path": "status",
                "conditions-0-type": "text",
                "conditions-0-cell": "in[",
            },
        ),
    )
    assert bad.status_code == 400 and "#/conditions/0/cell" in bad.content.decode()
    # A template id of no one's is refused as the API words it
    unknown = client.post(url, _form(endpoint, planCreated=["999999"]))
    assert "No template 999999 here." in unknown.content.decode()
    # A good form is saved, and the API reads back what the form said
    good = client.post(
        url,
        _form(
            endpoint,
            planCreated=[str(template.pk)],
            planUpdatedMode="all",
            isActive="",
            **{
                "conditions-0-path": "status",
                "conditions-0-type": "text",
                "conditions-0-cell": "=done",
            },
        ),
    )
    assert good.status_code == 302, good.content.decode()
    endpoint.refresh_from_db()
    api = WebhookSerializer(endpoint).data
    assert api["planCreated"] == [template.pk] and api["planUpdated"] == "all"
    assert api["formSubmitted"] == [] and api["isActive"] is False
    assert api["conditions"] == [{"path": "status", "fieldType": "text", "cell": "=done"}]


def test_rotate_shows_the_new_secret_and_when_the_old_one_stops(partner, endpoint, portal_as):
    page = portal_as(partner).post(f"/portal/endpoints/{endpoint.pk}/rotate-secret/")
    endpoint.refresh_from_db()
    text = page.content.decode()
    assert endpoint.secret in text
    assert f"{endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC" in text


def test_test_event_retry_replay_and_delete_call_the_services(partner, endpoint, portal_as):
    client = portal_as(partner)
    client.post(f"/portal/endpoints/{endpoint.pk}/test/")
    assert WebhookDelivery.objects.get(integration=endpoint).event_type == "webhookTest"
    failed = make_delivery(endpoint, status=DeliveryStatus.FAILED)
    page = client.get(f"/portal/deliveries/{failed.pk}/")
    assert b"Retry now" in page.content
    client.post(f"/portal/deliveries/{failed.pk}/retry/")
    assert WebhookDelivery.objects.get(pk=failed.pk).status == DeliveryStatus.PENDING
    old = make_delivery(endpoint, status=DeliveryStatus.FAILED)
    since = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/portal/endpoints/{endpoint.pk}/replay/", {"since": since})
    assert WebhookDelivery.objects.get(pk=old.pk).status == DeliveryStatus.PENDING
    client.post(f"/portal/endpoints/{endpoint.pk}/delete/")
    assert not HttpIntegration.objects.filter(pk=endpoint.pk).exists()


def test_a_new_endpoint_belongs_to_the_partner_and_shows_its_secret_once(
    partner, portal_as, webhook_settings, receiver
):
    client = portal_as(partner)
    assert client.get("/portal/endpoints/new/").status_code == 200
    page = client.post(
        "/portal/endpoints/create/",
        {"url": receiver.url(), "isActive": "on", "planCreatedMode": "all", "conditionRows": "0"},
    )
    created = HttpIntegration.objects.get()
    assert created.partner == partner and created.partner_name == partner.name
    assert WebhookSerializer(created).data["planCreated"] == "all"
    assert created.secret in page.content.decode()


def test_every_catalog_example_validates_against_its_served_schema(partner, portal_as):
    assert all(envelope_errors(entry["example"]) == [] for entry in catalog("hrh"))
    page = portal_as(partner).get("/portal/events/").content.decode()
    assert "workQueueItemStatusUpdated" in page and "healix.hrh.planCreated" in page


@pytest.fixture
def lab_subject(template) -> IntegrationDefinition:
    definition = IntegrationDefinition.objects.create(
        organization=template.organization, template=template, subject="labResult"
    )
    IntegrationField.objects.create(
        definition=definition, name="potassium", field_type="number", required=True
    )
    return definition


def test_inbound_shows_subjects_events_and_every_problem_at_its_pointer(
    partner, portal_as, lab_subject, plan
):
    # A subject the partner was not given is not its own, whatever its keys may do
    make_api_key(partner.organization, "acme", scopes=["inbound:write"], partner=partner)
    client = portal_as(partner)
    assert b"labResult" not in client.get("/portal/inbound/").content
    services.set_members(partner, subjects=["labResult"])
    body = json.dumps({"planId": str(plan.pk), "potassium": "high", "extra": 1})
    rejected = ingest(partner.organization, "labResult", body, "rest")
    accepted = ingest(
        partner.organization,
        "labResult",
        json.dumps({"planId": str(plan.pk), "potassium": 5}),
        "rest",
    )
    ingest(
        partner.organization,
        "labResult",
        json.dumps({"potassium": 5, "planId": str(plan.pk)}),
        "rest",
    )
    page = client.get("/portal/inbound/").content.decode()
    assert "labResult" in page and "1 duplicate counted on this first copy" in page
    detail = client.get(f"/portal/inbound/{rejected.event_id}/").content.decode()
    assert "#/extra" in detail and "#/potassium" in detail
    assert accepted.outcome == "accepted"


def test_trying_a_payload_validates_it_and_stores_nothing(partner, portal_as, lab_subject, plan):
    services.set_members(partner, subjects=["labResult"])
    client = portal_as(partner)
    bad = client.post(
        "/portal/inbound/try/", {"subject": "labResult", "body": '{"potassium": "x"}'}
    )
    text = bad.content.decode()
    assert "#/potassium" in text
    good = client.post(
        "/portal/inbound/try/",
        {"subject": "labResult", "body": json.dumps({"planId": str(plan.pk), "potassium": 5})},
    )
    assert "Would be accepted, for 1 plan." in good.content.decode()
    assert not InboundEvent.objects.exists()


def test_the_bus_page_shows_each_keys_credentials_and_client(partner, portal_as):
    make_api_key(partner.organization, "acme", scopes=["events:read"], partner=partner)
    make_api_key(partner.organization, "someone else", scopes=["events:read"])
    page = portal_as(partner).get("/portal/bus/").content.decode()
    assert page.count("import nats") == 1 and "pull_subscribe" in page


def test_a_wrong_id_is_a_404_not_a_500(partner, portal_as):
    client = portal_as(partner)
    for url in (
        "/portal/endpoints/x/",
        f"/portal/deliveries/{uuid.uuid4()}/",
        "/portal/inbound/1/",
    ):
        assert client.get(url).status_code == 404


def test_an_administrator_gives_a_partner_its_subjects_one_partner_each(
    hrh_administrator, partner, sibling_partner, lab_subject
):
    client = Client()
    client.force_login(hrh_administrator)
    page = f"/admin/portal/partner/{partner.pk}/change/"
    # The partner's page lists the organization's subjects to pick from
    assert b'value="labResult"' in client.get(page).content
    saved = client.post(page, {"name": partner.name, "subjects": ["labResult"]})
    assert saved.status_code == 302
    assert list(partner.subjects.values_list("subject", flat=True)) == ["labResult"]
    # A second partner is refused it, at the field, and keeps nothing
    refused = client.post(
        f"/admin/portal/partner/{sibling_partner.pk}/change/",
        {"name": sibling_partner.name, "subjects": ["labResult"]},
    )
    assert refused.status_code == 200
    assert "labResult is already Acme Scheduling&#x27;s." in refused.content.decode()
    assert not sibling_partner.subjects.exists()
