"""An administrator, in a real browser: an HTTP integration (webhook) pointing at a real
receiver on loopback and subscribed to every plan created, a test event sent with the list's
action, delivered by a real Celery worker (the receiver fails once), and the delivery with
both its attempts in the admin."""

import re

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from integrations.models import DeliveryStatus, HttpIntegration, WebhookDelivery
from tests.browser.ui import log_in, open_from_home
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import Reply

pytestmark = pytest.mark.browser


def test_administrator_sends_a_test_event_and_sees_its_delivery_attempts(
    page, shots, hrh_administrator, receiver, webhook_settings, webhook_worker
):
    receiver.replies.append(Reply(503, body=b"busy"))  # the first attempt fails, the retry lands
    log_in(page, hrh_administrator)

    # A new HTTP integration pointing at the receiver
    open_from_home(page, "HTTP integrations")
    page.get_by_role("link", name="Add HTTP integration").click()
    page.get_by_label("Partner name").fill("Lab partner")
    page.get_by_label("URL").fill(receiver.url())
    page.get_by_label("include test-user events").check()
    # subscribed to every plan created (a subscription row without a template)
    page.get_by_text("Add another Subscription").click()
    page.locator("#id_subscriptions-0-event_type").select_option(label="Plan created")
    shots("integration-form")
    page.get_by_role("button", name="Save", exact=True).click()

    # The signing secret is shown once
    secret_message = page.locator("ul.messagelist li", has_text="Signing secret of Lab partner")
    expect(secret_message).to_be_visible()
    secret = secret_message.locator("code").inner_text()
    assert secret.startswith("whsec_")
    integration = HttpIntegration.objects.get(partner_name="Lab partner")
    assert integration.secret == secret
    assert list(integration.subscriptions.values_list("event_type", "template")) == [
        ("planCreated", None)
    ]
    shots("integration-saved-secret-shown")

    # The list's action "Send a test event" on it
    row = page.locator("#result_list tr", has_text="Lab partner")
    row.get_by_role("checkbox").check()
    action = page.get_by_role("combobox", name=re.compile(r"^Action"))
    action.select_option(label="Send a test event")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Test event queued for 1 integration")
    shots("test-event-queued")

    # The worker delivers it: refused once, then received, signed with the secret shown
    wait_until(lambda: len(receiver.received) == 2)
    for request in receiver.received:
        event = Webhook(secret).verify(request.body, request.headers)
        assert event["messageType"] == "healix.hrh.webhookTest"
    wait_until(lambda: WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED)

    # The delivery log: the integration's Deliveries link, then the delivery with its attempts
    page.locator("#result_list tr", has_text="Lab partner").get_by_role(
        "link", name="Deliveries"
    ).click()
    deliveries = page.locator("#result_list tbody tr")
    expect(deliveries).to_have_count(1)
    expect(deliveries.first).to_contain_text("webhookTest")
    expect(deliveries.first).to_contain_text("Succeeded")
    shots("deliveries")
    deliveries.first.locator("th a").click()
    attempts = page.locator("#attempts-group tbody tr.has_original")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0).locator("td.field-status_code")).to_have_text("503")
    expect(attempts.nth(1).locator("td.field-status_code")).to_have_text("200")
    expect(attempts.nth(1).locator("td.field-outcome")).to_have_text(re.compile("ucceeded"))
    shots("delivery-attempts")
