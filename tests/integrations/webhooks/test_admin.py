"""The admin of HTTP integrations: created with a secret shown once, choices kept to the
organization, the delivery log with its attempts, and the actions (test event, rotate,
replay failed since, retry now)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from integrations.models import (
    DeliveryStatus,
    HttpIntegration,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from integrations.webhooks.services import send_test_event
from tests.fixtures.webhooks import make_integration

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:integrations_httpintegration_add")
LIST_URL = reverse("admin:integrations_httpintegration_changelist")
DELIVERIES_URL = reverse("admin:integrations_webhookdelivery_changelist")
INLINES = ("subscriptions", "conditions", "events")


@pytest.fixture(autouse=True)
def _loopback(webhook_settings):
    pass


@pytest.fixture
def hrh_client(client, hrh_administrator):
    client.force_login(hrh_administrator)
    return client


def integration_form(**changes) -> dict:
    data = {"partner_name": "Acme", "url": "https://127.0.0.1/hook", "is_active": "on"}
    data["custom_headers"] = "{}"
    for prefix in INLINES:
        data[f"{prefix}-TOTAL_FORMS"] = "0"
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    return {**data, **changes}


def test_creating_an_integration_shows_its_secret_once(hrh_client, org, template):
    # When an administrator adds an integration choosing the template's plan created events
    data = integration_form(
        **{
            "subscriptions-TOTAL_FORMS": "1",
            "subscriptions-0-event_type": "planCreated",
            "subscriptions-0-template": str(template.pk),
        }
    )
    response = hrh_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    # Then it belongs to hrh, with the choice, and the secret is in a message, once
    integration = HttpIntegration.objects.get()
    assert integration.organization == org
    assert integration.subscriptions.get().template == template
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(integration.secret in message for message in shown)
    hrh_client.get(response.url)  # the page after saving shows the message
    page = hrh_client.get(
        reverse("admin:integrations_httpintegration_change", args=[integration.pk])
    )
    assert integration.secret not in page.content.decode()
    assert "Manage HTTP Integrations" in hrh_client.get(LIST_URL).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "https://10.0.0.1/hook", "private address"),
        ("url", "ftp://example.com/", "Only http:// and https://"),
        ("custom_headers", '{"Bad Name": "x"}', "not a valid header name"),
        ("custom_headers", '{"X-A": "a\\r\\nX-Injected: 1"}', "without line breaks"),
        ("custom_headers", '{"webhook-signature": "x"}', "set by Healix"),
    ],
)
def test_bad_urls_and_headers_are_refused_next_to_their_field(
    hrh_client, settings, field, value, message
):
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = []
    response = hrh_client.post(ADD_URL, integration_form(**{field: value}))
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    assert not HttpIntegration.objects.exists()


def test_another_organizations_template_cannot_be_chosen(hrh_client, other_template):
    data = integration_form(
        **{
            "subscriptions-TOTAL_FORMS": "1",
            "subscriptions-0-event_type": "planCreated",
            "subscriptions-0-template": str(other_template.pk),
        }
    )
    response = hrh_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert not WebhookSubscription.objects.exists()


def test_another_organizations_integrations_and_deliveries_stay_out_of_reach(hrh_client, other_org):
    theirs, _secret = make_integration(other_org, "https://127.0.0.1/x")
    delivery = send_test_event(theirs)
    assert "127.0.0.1/x" not in hrh_client.get(LIST_URL).content.decode()
    assert str(delivery.event_id) not in hrh_client.get(DELIVERIES_URL).content.decode()
    change = reverse("admin:integrations_httpintegration_change", args=[theirs.pk])
    assert hrh_client.get(change).status_code == 404
    detail = reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    assert hrh_client.get(detail).status_code == 404
    # An action on their id does nothing either
    hrh_client.post(LIST_URL, {"action": "send_test_event", "_selected_action": [str(theirs.pk)]})
    assert WebhookDelivery.objects.filter(integration=theirs).count() == 1


def test_send_a_test_event_and_rotate_the_secret(hrh_client, org):
    integration, old = make_integration(org, "https://127.0.0.1/hook")
    hrh_client.post(
        LIST_URL, {"action": "send_test_event", "_selected_action": [str(integration.pk)]}
    )
    assert integration.deliveries.get().event_type == "webhookTest"
    response = hrh_client.post(
        LIST_URL, {"action": "rotate_secret", "_selected_action": [str(integration.pk)]}
    )
    integration.refresh_from_db()
    assert integration.previous_secret == old and integration.secret != old
    assert any(integration.secret in str(m) for m in get_messages(response.wsgi_request))


def test_replay_failed_since_asks_for_the_moment_then_replays(hrh_client, org):
    integration, _secret = make_integration(org, "https://127.0.0.1/hook")
    failed = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED)
    selected = {"action": "replay_failed", "_selected_action": [str(integration.pk)]}
    # First the form asking since when
    page = hrh_client.post(LIST_URL, selected)
    assert page.status_code == 200 and "since_0" in page.content.decode()
    # Then the replay
    today = timezone.now()
    hrh_client.post(LIST_URL, {**selected, "since_0": f"{today:%Y-%m-%d}", "since_1": "00:00:00"})
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING


def test_the_delivery_log_shows_attempts_and_retries_now(hrh_client, org):
    integration, _secret = make_integration(org, "https://127.0.0.1/hook")
    sent = send_test_event(integration)
    WebhookDelivery.objects.filter(pk=sent.pk).update(status=DeliveryStatus.FAILED)
    WebhookAttempt.objects.create(
        delivery=sent, number=1, started_at=timezone.now(), status_code=500,
        response_body="upstream down", outcome="failed",
    )  # fmt: skip
    listing = hrh_client.get(DELIVERIES_URL, {"status__exact": "failed"})
    assert str(integration) in listing.content.decode()
    detail = hrh_client.get(reverse("admin:integrations_webhookdelivery_change", args=[sent.pk]))
    assert "upstream down" in detail.content.decode()
    # The payload as sent, indented and wrapped within the page
    page = detail.content.decode()
    assert '<pre class="healix-json">{\n' in page  # wrapped by healix/static/healix/admin.css
    assert f"&quot;eventId&quot;: &quot;{sent.event_id}&quot;" in page
    hrh_client.post(DELIVERIES_URL, {"action": "retry_now", "_selected_action": [str(sent.pk)]})
    sent.refresh_from_db()
    assert sent.status == DeliveryStatus.PENDING
