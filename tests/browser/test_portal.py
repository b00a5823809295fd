"""A partner, alone in a browser at 1366 x 768: the organization's backend asks the API for a
magic link, the partner follows it, finds why its webhook fails (its receiver, a real loopback
HTTP server, answers 500), points the endpoint at its fixed receiver, replays what failed and
sees the deliveries succeed, delivered by a real Celery worker; and finds why an inbound event
was rejected, and tries the fix without sending it. No page scrolls sideways, no console
error, no CSP violation."""

import json
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from integrations.inbound.services import ingest
from integrations.models import (
    DeliveryStatus,
    InboundEvent,
    IntegrationDefinition,
    IntegrationField,
    WebhookDelivery,
)
from integrations.webhooks import services as webhook_services
from portal import services as portal_services
from tests.fixtures.integrations import make_api_key
from tests.fixtures.portal import make_partner
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import Receiver, Reply, make_integration

pytestmark = pytest.mark.browser


def _fits(page: Page) -> None:
    fits = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert fits, f"{page.url} scrolls sideways"


def test_a_partner_fixes_its_failing_webhook_and_replays_what_it_missed(
    page, shots, live_server, org, receiver, webhook_settings, webhook_worker, console_errors
):
    # Given an endpoint of the partner whose receiver fails every attempt
    broken = Receiver()
    broken.replies.extend(Reply(500, body=b"database down") for _ in range(40))
    partner = make_partner(org, "Acme Scheduling")
    endpoint, _secret = make_integration(org, broken.url("/broken"), partner_name=partner.name)
    portal_services.set_members(partner, integrations=[endpoint])
    for _ in range(2):
        webhook_services.send_test_event(endpoint)
    wait_until(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).count() == 2)
    broken.close()

    # The organization's backend asks for a read-write link over the API
    key = make_api_key(org, "backend", scopes=["webhooks:admin"])
    answer = requests.post(
        f"{live_server.url}/api/v1/portal-sessions/",
        json={"partnerId": partner.pk, "access": "read-write"},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    link = answer.json()["url"]

    # The partner follows it and confirms
    page.goto(link)
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    shots("link-confirm")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Acme Scheduling")).to_be_visible()
    _fits(page)
    shots("home")

    # Its endpoints: none of the last day's attempts succeeded
    page.get_by_role("navigation").get_by_role("link", name="Webhook endpoints").click()
    row = page.locator("tbody tr", has_text="/broken")
    expect(row).to_contain_text("0% of 16")
    _fits(page)
    shots("endpoints")
    row.get_by_role("link").click()
    failed = page.locator("tbody tr", has_text="failed")
    expect(failed).to_have_count(2)
    _fits(page)
    shots("endpoint-failing")

    # Why: every attempt got HTTP 500 "database down"
    failed.first.get_by_role("link").click()
    attempts = page.locator("tbody tr")
    expect(attempts).to_have_count(8)
    expect(attempts.first).to_contain_text("500")
    expect(attempts.first).to_contain_text("database down")
    _fits(page)
    shots("delivery-attempts")

    # The fix: the endpoint now points at the fixed receiver
    page.get_by_role("link", name=re.compile("broken$")).click()
    page.get_by_label("URL").fill(receiver.url("/fixed"))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message")).to_have_text("Endpoint saved.")
    expect(page.get_by_role("heading", name=receiver.url("/fixed"))).to_be_visible()
    shots("endpoint-fixed")

    # Replay every failed delivery of the last day (the form's default)
    page.get_by_role("button", name="Replay").click()
    expect(page.locator(".message")).to_contain_text("2 failed deliveries since")
    wait_until(lambda: len(receiver.received) == 2)
    wait_until(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2)
    page.reload()
    expect(page.locator("tbody tr", has_text="succeeded")).to_have_count(2)
    expect(page.locator("#success-rate")).to_have_text(re.compile(r"\d+%"))
    _fits(page)
    shots("deliveries-succeeded")
    assert all(request.path == "/fixed" for request in receiver.received)
    assert console_errors.take() == []


def test_a_partner_finds_why_an_inbound_event_was_rejected_and_tries_a_fix(
    page, shots, org, template, plan, console_errors
):
    # Given a subject of the organization made the partner's, a key of the partner that may
    # send to it, and a payload of the partner's that was rejected
    definition = IntegrationDefinition.objects.create(
        organization=org, template=template, subject="labResult"
    )
    IntegrationField.objects.create(
        definition=definition, name="potassium", field_type="number", required=True
    )
    partner = make_partner(org, "Acme Labs")
    make_api_key(org, "acme", scopes=["inbound:write", "events:read"], partner=partner)
    portal_services.set_members(partner, subjects=["labResult"])
    body = {"planId": str(plan.pk), "potassium": "high", "unit": "mmol/L"}
    ingest(org, "labResult", json.dumps(body), "rest")
    link = portal_services.issue_session(partner, access="read-only")

    page.goto(link.path)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("navigation").get_by_role("link", name="Inbound").click()
    row = page.locator("tbody tr", has_text="rejected")
    expect(row).to_contain_text("#/potassium")
    _fits(page)
    shots("inbound")
    row.get_by_role("link").click()
    problems = page.locator("tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("#/potassium")
    expect(problems.nth(1)).to_contain_text("#/unit")
    expect(problems.nth(1)).to_contain_text("Unknown field")
    _fits(page)
    shots("rejected-event")

    # The fix, tried before it is sent: nothing is stored
    page.get_by_role("link", name="Try a fixed copy").click()
    expect(page.get_by_label("Subject")).to_have_value("labResult")
    page.get_by_label("Payload (JSON)").fill(json.dumps({**body, "potassium": 5.9}))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#verdict")).to_contain_text("#/unit")
    page.get_by_label("Payload (JSON)").fill(json.dumps({"planId": str(plan.pk), "potassium": 5.9}))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#verdict")).to_contain_text("Would be accepted, for 1 plan.")
    _fits(page)
    shots("try-a-payload")
    assert InboundEvent.objects.count() == 1

    # The other pages of a partner fit the window too
    for name, heading in [("Event catalog", "Event catalog"), ("Bus", "The bus (NATS)")]:
        page.get_by_role("navigation").get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        _fits(page)
        shots(name.lower().replace(" ", "-"))
    assert console_errors.take() == []
