"""Secrets at rest (issue 15, item 8): webhook signing secrets, custom header values (partners
put credentials there) and the stored idempotent answers that carry a secret are encrypted with
a key from HEALIX_ENCRYPTION_KEYS, which rotates; header values are write-only once saved.

Read the way an attacker with a database dump (or a backup) would: raw SQL, every column."""

import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from standardwebhooks import Webhook

from healix.encryption import UndecryptableValue, new_key
from healix.models import IdempotentRequest, UserType
from integrations.models import HttpIntegration
from integrations.webhooks import delivery
from integrations.webhooks.headers import MASK
from integrations.webhooks.services import send_test_event
from tests.fixtures.domain import make_user
from tests.fixtures.webhooks import make_integration

pytestmark = pytest.mark.django_db

LIST = "/api/v1/webhooks/"
PUBLIC_URL = "https://93.184.215.14/hooks"  # a public literal: passes the guard without DNS


def post(client, path: str, body=None, **headers):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


def patch(client, path: str, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def table_text(model) -> str:
    """Every row of the model's table, every column, as PostgreSQL prints it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {model._meta.db_table} t")
        return "\n".join(row[0] for row in cursor.fetchall())


def register(target, credential: str) -> tuple[dict, dict]:
    """A webhook with a credential header, created and rotated with Idempotency-Keys (their
    first answers, secrets included, are stored for replays)."""
    created = post(
        target.client,
        LIST,
        {"partnerName": "Acme", "url": PUBLIC_URL, "customHeaders": {"X-Api-Key": credential}},
        HTTP_IDEMPOTENCY_KEY="create-acme",
    )
    assert created.status_code == 201, created.content
    webhook = created.json()
    rotated = post(target.client, f"{LIST}{webhook['id']}/rotate-secret/", HTTP_IDEMPOTENCY_KEY="r")
    assert rotated.status_code == 200, rotated.content
    return webhook, rotated.json()


def test_the_database_holds_no_secret_or_header_value_in_clear(world, other_world):
    # Given both organizations registered a webhook with a credential header and rotated it
    shown = []
    for target, credential in ((world, "hrh-credential-4711"), (other_world, "evil-cred-0815")):
        webhook, rotated = register(target, credential)
        shown += [credential, webhook["secret"], rotated["secret"], target.webhook_secret]
        # (the answers show the header's value masked, from the first one on)
        assert webhook["customHeaders"] == {"X-Api-Key": MASK}
    # When the tables are read raw, every column of every row
    dump = table_text(HttpIntegration) + table_text(IdempotentRequest)
    # Then no secret, current or previous, and no header value appears in clear
    for value in shown:
        assert value not in dump
    assert "X-Api-Key" not in dump  # not even the header names
    # And Healix itself still reads them (the replay of a create answers the secret again)
    again = post(
        world.client,
        LIST,
        {"partnerName": "Acme", "url": PUBLIC_URL, "customHeaders": {"X-Api-Key": shown[0]}},
        HTTP_IDEMPOTENCY_KEY="create-acme",
    )
    assert again["Idempotent-Replayed"] == "true" and again.json()["secret"] == shown[1]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_sends_the_header_and_signs_with_the_secret_shown(
    org, webhook_settings, receiver, monkeypatch
):
    # Given an integration whose header and secret are stored encrypted
    integration, secret = make_integration(
        org, receiver.url(), custom_headers={"X-Api-Key": "hrh-credential-4711"}
    )
    assert "hrh-credential-4711" not in table_text(HttpIntegration)
    # When a test event is delivered (the task's work, in this process)
    monkeypatch.setattr(delivery, "queue_deliveries", lambda *args, **kwargs: None)
    sent = send_test_event(integration)
    delivery.deliver([str(sent.pk)])
    # Then the receiver got the header in clear and a signature of the secret shown at creation
    [received] = receiver.received
    assert received.headers["x-api-key"] == "hrh-credential-4711"
    Webhook(secret).verify(received.body, received.headers)


def raw_secrets() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {HttpIntegration._meta.db_table}")
        return [row[0] for row in cursor.fetchall()]


def test_a_rotated_key_decrypts_until_reencrypted_then_only_the_new_key_is_needed(
    world, other_world, settings
):
    # Given both organizations' rows encrypted under the session's key
    old, new = settings.HEALIX_ENCRYPTION_KEYS[0], new_key()
    targets = (world, other_world)
    # When the old key is dropped before re-encrypting: reading fails loudly, naming the cause
    settings.HEALIX_ENCRYPTION_KEYS = [new]
    with pytest.raises(UndecryptableValue, match="reencrypt_secrets"):
        HttpIntegration.objects.get(pk=world.webhook.pk)
    # When the new key is put first, the old one kept: the old rows still read
    settings.HEALIX_ENCRYPTION_KEYS = [new, old]
    for target in targets:
        assert HttpIntegration.objects.get(pk=target.webhook.pk).secret == target.webhook_secret
    # When every column is re-encrypted
    output = io.StringIO()
    call_command("reencrypt_secrets", stdout=output)
    assert "integrations.HttpIntegration.secret: 2 re-encrypted" in output.getvalue()
    # Then the new key alone reads every row of both organizations ...
    settings.HEALIX_ENCRYPTION_KEYS = [new]
    for target in targets:
        stored = HttpIntegration.objects.get(pk=target.webhook.pk)
        assert stored.secret == target.webhook_secret
    # ... and the old key opens none of the raw tokens any more
    for token in raw_secrets():
        Fernet(new).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token.encode())


def test_a_masked_value_sent_back_keeps_the_stored_one_but_not_for_another_host(world):
    webhook, _rotated = register(world, "hrh-credential-4711")
    path = f"{LIST}{webhook['id']}/"
    # Given the webhook read back (masked) and sent back with one more header
    read = world.client.get(path).json()["customHeaders"]
    changed = patch(world.client, path, {"customHeaders": {**read, "X-Tenant": "42"}})
    # Then the stored credential is kept, the new header added, and neither is shown
    assert changed.status_code == 200, changed.content
    assert changed.json()["customHeaders"] == {"X-Api-Key": MASK, "X-Tenant": MASK}
    stored = HttpIntegration.objects.get(pk=webhook["id"])
    assert stored.custom_headers == {"X-Api-Key": "hrh-credential-4711", "X-Tenant": "42"}
    # When the URL moves to another host with the values left masked, or not given at all
    elsewhere = "https://93.184.215.15/collect"
    for body in ({"url": elsewhere, "customHeaders": read}, {"url": elsewhere}):
        moved = patch(world.client, path, body)
        # Then it is refused at #/customHeaders: the credential would be read over there
        assert moved.status_code == 400, moved.content
        errors = moved.json()["errors"]
        assert {error["pointer"] for error in errors} == {"#/customHeaders"}
        assert "Give the value of X-Api-Key" in errors[0]["detail"]
    assert HttpIntegration.objects.get(pk=webhook["id"]).url == PUBLIC_URL


@pytest.fixture
def other_administrator(other_org, editor_groups):
    user = make_user(other_org, "other-administrator", UserType.ADMIN, is_staff=True)
    user.groups.add(editor_groups["Administrators"])
    return user


def admin_form(integration: HttpIntegration, page) -> dict:
    """The change form as the page filled it in, ready to post back."""
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in ("partner_name", "url", "custom_headers")}
    data["is_active"] = "on"
    for prefix in ("subscriptions", "conditions", "events"):
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
    data["events-INITIAL_FORMS"] = str(integration.events.count())
    data["events-TOTAL_FORMS"] = data["events-INITIAL_FORMS"]
    return data


def test_the_admin_shows_header_values_masked_to_its_organization_and_nothing_to_another(
    client, org, hrh_administrator, other_administrator, webhook_settings
):
    integration, _secret = make_integration(
        org, "https://127.0.0.1/hook", custom_headers={"X-Api-Key": "hrh-credential-4711"}
    )
    change = reverse("admin:integrations_httpintegration_change", args=[integration.pk])
    # Given the other organization's administrator: the page does not exist for them
    client.force_login(other_administrator)
    assert client.get(change).status_code == 404
    listed = client.get(reverse("admin:integrations_httpintegration_changelist"))
    assert "hrh-credential-4711" not in listed.content.decode()
    # Given hrh's administrator: the page shows the header's name, its value masked
    client.force_login(hrh_administrator)
    page = client.get(change)
    assert "hrh-credential-4711" not in page.content.decode()
    assert json.loads(page.context["adminform"].form["custom_headers"].value()) == {
        "X-Api-Key": MASK
    }
    # When the form is saved as shown, with a new name: the stored value is kept
    data = {**admin_form(integration, page), "partner_name": "Acme 2"}
    saved = client.post(change, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    integration.refresh_from_db()
    assert integration.custom_headers == {"X-Api-Key": "hrh-credential-4711"}
    # When the URL moves to another host, the masked value is refused next to its field
    moved = client.post(change, {**data, "url": "https://127.0.0.2/collect"})
    assert moved.status_code == 200
    assert "Give the value of X-Api-Key" in str(moved.context["adminform"].form.errors)


BEFORE_ENCRYPTION = [
    ("integrations", "0008_inbound_rules_failure"),
    ("healix", "0007_api_idempotency_and_throttling"),
]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def stored_header(organization) -> str:
    """The raw X-Api-Key of the organization's integration, read as jsonb."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT custom_headers->>'X-Api-Key' FROM {HttpIntegration._meta.db_table} "
            "WHERE organization_id = %s",
            [organization.pk],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_rows_and_its_reverse_decrypts_them(org, other_org):
    # Given both organizations' rows as they were stored before encryption, in clear
    migrate(BEFORE_ENCRYPTION)
    old = MigrationExecutor(connection).loader.project_state(BEFORE_ENCRYPTION).apps
    credentials = {org: "hrh-credential-4711", other_org: "evil-cred-0815"}
    for organization, credential in credentials.items():
        old.get_model("integrations", "HttpIntegration").objects.create(
            organization_id=organization.pk,
            partner_name="Acme",
            url=PUBLIC_URL,
            secret=f"whsec_{credential}",
            custom_headers={"X-Api-Key": credential},
        )
    old.get_model("healix", "IdempotentRequest").objects.create(
        organization_id=org.pk,
        key="create-acme",
        fingerprint="0" * 64,
        status_code=201,
        response_body=json.dumps({"secret": "whsec_hrh-credential-4711"}),
    )
    # When the migrations run
    migrate(None)
    # Then no clear value is left, and Healix reads every one
    dump = table_text(HttpIntegration) + table_text(IdempotentRequest)
    assert not [value for value in credentials.values() if value in dump]
    for organization, credential in credentials.items():
        stored = HttpIntegration.objects.get(organization=organization)
        assert stored.custom_headers == {"X-Api-Key": credential}
        assert stored.secret == f"whsec_{credential}"
    assert "whsec_hrh" in IdempotentRequest.objects.get().response_body
    # When they are reversed, the values are in clear again, the headers jsonb as before
    migrate(BEFORE_ENCRYPTION)
    assert {stored_header(organization) for organization in credentials} == set(
        credentials.values()
    )
    migrate(None)
