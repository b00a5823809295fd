"""/api/v1/webhooks/ and /api/v1/deliveries/: the secret shown once, every field validated at
its place, foreign ids refused without a leak, rotation with an overlap, a test event through a
real Celery worker to a real loopback receiver. (Scopes and the 404s on another organization's
ids are in test_scopes.py and test_tenancy.py, through the catalogue.)"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from integrations.models import DeliveryStatus, HttpIntegration, WebhookDelivery
from integrations.webhooks.headers import MASK
from templates.models import Form, PlanTemplate, WorkQueue
from tests.fixtures.integrations import key_client, make_api_key
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db

LIST = "/api/v1/webhooks/"


def post(client, path: str, body=None, **headers):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


def patch(client, path: str, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def pointers(response) -> dict[str, str]:
    """pointer -> detail (several details of one pointer joined by a space)."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    found: dict[str, str] = {}
    for error in response.json()["errors"]:
        found[error["pointer"]] = " ".join(
            filter(None, [found.get(error["pointer"]), error["detail"]])
        )
    return found


def test_the_secret_is_shown_on_create_and_never_on_read(world, webhook_settings, receiver):
    # When a webhook is registered
    response = post(
        world.client,
        LIST,
        {"partnerName": "Acme", "url": receiver.url(), "customHeaders": {"X-Tenant": "42"}},
    )
    # Then the answer carries its secret, the one it signs with
    assert response.status_code == 201, response.content
    created = response.json()
    stored = HttpIntegration.objects.get(pk=created["id"])
    assert created["secret"] == stored.secret and created["secret"].startswith("whsec_")
    assert response["Location"] == f"/api/v1/webhooks/{stored.pk}/"
    # The header's value is write-only: masked from the first answer on, stored as given
    assert created["customHeaders"] == {"X-Tenant": MASK} and created["isActive"] is True
    assert stored.custom_headers == {"X-Tenant": "42"}
    # And no read or change shows it again, under any name
    for answer in (
        world.client.get(LIST),
        world.client.get(f"{LIST}{stored.pk}/"),
        patch(world.client, f"{LIST}{stored.pk}/", {"partnerName": "Acme 2"}),
    ):
        assert answer.status_code == 200, answer.content
        assert stored.secret.encode() not in answer.content
        assert b'"secret"' not in answer.content
    assert world.webhook_secret.encode() not in world.client.get(LIST).content


def test_every_field_is_checked_at_its_place(world):
    # Given a body wrong everywhere (and a loopback URL the production settings refuse)
    response = post(
        world.client,
        LIST,
        {
            "partnerName": "",
            "url": "https://127.0.0.1/hook",
            "customHeaders": {"Bad Header": "x", "Host": "evil"},
            "planCreated": "some",
            "conditions": [
                {"path": "status", "fieldType": "text", "cell": "=done"},
                {"path": "1bad..path", "fieldType": "number", "cell": ">>3"},
            ],
        },
    )
    # Then the problem names each member at fault, nothing else, and nothing was made
    found = pointers(response)
    assert set(found) == {
        "#/partnerName",
        "#/planCreated",
        "#/conditions/1/path",
        "#/conditions/1/cell",
    }
    assert HttpIntegration.objects.filter(organization=world.organization).count() == 1
    # (an unknown member is refused before anything else is looked at)
    assert pointers(post(world.client, LIST, {"colour": "red"})) == {
        "#/colour": "Not a member of this object."
    }
    # And the checks of the model (SSRF guard, header names) come back per field too
    found = pointers(
        post(
            world.client,
            LIST,
            {
                "partnerName": "Acme",
                "url": "https://127.0.0.1/hook",
                "customHeaders": {"Bad Header": "x", "Host": "evil"},
            },
        )
    )
    assert set(found) == {"#/url", "#/customHeaders"}
    assert "loopback" in found["#/url"]
    assert "not a valid header name" in found["#/customHeaders"]
    assert "Host is set by Healix" in found["#/customHeaders"]
    # And a PATCH is checked the same way, changing nothing
    before = world.fingerprint()
    found = pointers(patch(world.client, f"{LIST}{world.webhook.pk}/", {"url": "ftp://x"}))
    assert set(found) == {"#/url"}
    assert world.fingerprint() == before


def test_foreign_template_form_and_queue_ids_are_400_at_their_place(world, other_world):
    own = _ids(world)
    foreign = _ids(other_world)
    before = (world.fingerprint(), other_world.fingerprint())
    # When A chooses B's template, form and work queue (next to its own)
    body = {
        "partnerName": "Acme",
        "url": "https://93.184.215.14/acme",
        "planCreated": [own["template"], foreign["template"]],
        "formSubmitted": [foreign["form"]],
        "statusUpdated": [foreign["queue"]],
    }
    found = pointers(post(world.client, LIST, body))
    # Then each foreign id is refused where it was given, worded as for an id that is nowhere
    assert found == {
        "#/planCreated/1": f"No template {foreign['template']} here.",
        "#/formSubmitted/0": f"No form {foreign['form']} here.",
        "#/statusUpdated/0": f"No work queue {foreign['queue']} here.",
    }
    nowhere = pointers(post(world.client, LIST, {**body, "planCreated": [2**40]}))
    assert nowhere["#/planCreated/0"] == f"No template {2**40} here."
    found = pointers(
        patch(world.client, f"{LIST}{world.webhook.pk}/", {"planUpdated": [foreign["template"]]})
    )
    assert set(found) == {"#/planUpdated/0"}
    assert (world.fingerprint(), other_world.fingerprint()) == before
    # And the organization's own ids are taken and read back
    response = post(
        world.client,
        LIST,
        {
            **body,
            "planCreated": [own["template"]],
            "planUpdated": "all",
            "formSubmitted": [own["form"]],
            "statusUpdated": [own["queue"]],
            "conditions": [{"path": "status", "fieldType": "text", "cell": "in[done,cancelled]"}],
        },
    )
    assert response.status_code == 201, response.content
    read = world.client.get(f"{LIST}{response.json()['id']}/").json()
    assert read["planCreated"] == [own["template"]] and read["planUpdated"] == "all"
    assert read["formSubmitted"] == [own["form"]] and read["statusUpdated"] == [own["queue"]]
    assert read["conditions"] == [
        {"path": "status", "fieldType": "text", "cell": "in[done,cancelled]"}
    ]


def _ids(target) -> dict[str, int]:
    organization = target.organization
    return {
        "template": PlanTemplate.objects.filter(organization=organization).first().pk,
        "form": Form.objects.filter(organization=organization).first().pk,
        "queue": WorkQueue.objects.filter(organization=organization).first().pk,
    }


def test_a_repeated_create_with_its_idempotency_key_makes_one_webhook(world):
    body = {"partnerName": "Acme", "url": "https://93.184.215.14/acme"}
    first = post(world.client, LIST, body, HTTP_IDEMPOTENCY_KEY="create-acme")
    again = post(world.client, LIST, body, HTTP_IDEMPOTENCY_KEY="create-acme")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert HttpIntegration.objects.filter(partner_name="Acme").count() == 1


def test_a_repeated_rotation_with_its_idempotency_key_rotates_once(world):
    path = f"{LIST}{world.webhook.pk}/rotate-secret/"
    first = post(world.client, path, HTTP_IDEMPOTENCY_KEY="rotate-1")
    again = post(world.client, path, HTTP_IDEMPOTENCY_KEY="rotate-1")
    assert first.status_code == again.status_code == 200
    assert again.json()["secret"] == first.json()["secret"]
    world.webhook.refresh_from_db()
    # One rotation: the world's first secret is still the previous one
    assert world.webhook.secret == first.json()["secret"]
    assert world.webhook.previous_secret == world.webhook_secret


def test_delete_removes_the_webhook_and_its_log_and_patch_pauses(world):
    url = f"{LIST}{world.webhook.pk}/"
    paused = patch(world.client, url, {"isActive": False})
    assert paused.status_code == 200 and paused.json()["isActive"] is False
    # While a worker holds one of its deliveries (a lease), it is not deleted
    leased = WebhookDelivery.objects.filter(pk=world.delivery.pk)
    leased.update(leased_until=timezone.now() + timedelta(minutes=1))
    refused = world.client.delete(url)
    assert refused.status_code == 409 and "being sent right now" in refused.json()["detail"]
    assert world.client.get(url).status_code == 200
    leased.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert world.client.delete(url).status_code == 204
    assert world.client.get(url).status_code == 404
    assert not WebhookDelivery.objects.filter(pk=world.delivery.pk).exists()


def test_deliveries_filter_by_status_and_retry(world):
    deliveries = f"{LIST}{world.webhook.pk}/deliveries/"
    # The world's delivery failed
    failed = world.client.get(deliveries, {"status": "failed"}).json()["results"]
    assert [d["id"] for d in failed] == [str(world.delivery.pk)]
    assert failed[0]["eventType"] == "webhookTest" and failed[0]["attempts"] == []
    assert world.client.get(deliveries, {"status": "succeeded"}).json()["results"] == []
    assert "#/status" in pointers(world.client.get(deliveries, {"status": "gone"}))
    # A retry makes it pending again, due now
    retried = post(world.client, f"/api/v1/deliveries/{world.delivery.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    # A delivery that succeeded is not sent again: 409
    WebhookDelivery.objects.filter(pk=world.delivery.pk).update(status=DeliveryStatus.SUCCEEDED)
    refused = post(world.client, f"/api/v1/deliveries/{world.delivery.pk}/retry/")
    assert refused.status_code == 409 and refused["Content-Type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)
def test_rotate_then_test_event_reaches_the_receiver_signed_by_both_secrets(
    org, receiver, webhook_settings, webhook_worker
):
    # Given a webhook registered over the API, pointing at a real loopback receiver
    client = key_client(make_api_key(org, "hooks", scopes=["webhooks:admin"]))
    created = post(client, LIST, {"partnerName": "Acme", "url": receiver.url()}).json()
    old = created["secret"]
    # When its secret is rotated
    rotated = post(client, f"{LIST}{created['id']}/rotate-secret/")
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert (
        client.get(f"{LIST}{created['id']}/").json()["previousSecretExpiresAt"]
        == (rotated.json()["previousSecretExpiresAt"])
    )
    # And a test event is sent (the real Celery worker delivers it)
    sent = post(client, f"{LIST}{created['id']}/test/")
    assert sent.status_code == 201 and sent.json()["eventType"] == "webhookTest"
    wait_until(lambda: receiver.received)
    # Then the receiver verifies it with either secret
    request = receiver.received[0]
    assert Webhook(new).verify(request.body, request.headers)["eventId"] == sent.json()["eventId"]
    Webhook(old).verify(request.body, request.headers)
    # And the delivery log shows the successful attempt
    deliveries = f"{LIST}{created['id']}/deliveries/"
    wait_until(
        lambda: client.get(deliveries, {"status": "succeeded"}).json()["results"],
    )
    delivery = client.get(deliveries).json()["results"][0]
    assert delivery["attempts"][0]["statusCode"] == 200
    assert delivery["attempts"][0]["outcome"] == "succeeded"
