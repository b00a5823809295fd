"""Subscriptions: which events go to an HTTP integration, as one row per event type and scope
(a template, a form, a work queue, or none: every one). Written by the services, for the REST
API and the admin alike; read by the fan-out; kept sound by PostgreSQL."""

import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from events.types import EventType
from integrations.models import HttpIntegration, WebhookSubscription
from integrations.webhooks.fanout import IntegrationFilter, OutgoingEvent, load_filters, matches
from integrations.webhooks.services import ALL, ConditionSpec, set_choices
from templates.models import Form, PlanTemplate, WorkQueue
from tests.fixtures.webhooks import make_integration

pytestmark = pytest.mark.django_db

URL = "https://127.0.0.1/hook"
CREATED, UPDATED = EventType.PLAN_CREATED, EventType.PLAN_UPDATED
SUBMITTED, STATUS = EventType.FORM_SUBMITTED, EventType.WORK_QUEUE_ITEM_STATUS_UPDATED
ADD_URL = reverse("admin:integrations_httpintegration_add")


@pytest.fixture(autouse=True)
def _loopback(webhook_settings):
    pass


def rows(integration: HttpIntegration) -> set[tuple]:
    return set(
        integration.subscriptions.values_list("event_type", "template", "form", "work_queue")
    )


def event(event_type: str, **info) -> OutgoingEvent:
    return OutgoingEvent("hrh", event_type, uuid.uuid4(), "", info, "{}")


def test_all_is_one_row_without_a_scope_and_a_list_one_row_per_choice(org, template, work_queue):
    intake = template.forms.get(name="intake")
    # When an integration takes every plan created, the intake form and the triage queue
    integration, _secret = make_integration(
        org,
        URL,
        subscriptions={CREATED: ALL, UPDATED: [], SUBMITTED: [intake], STATUS: [work_queue]},
    )
    # Then each is one row; "none" ([]) is no row at all
    assert rows(integration) == {
        (CREATED, None, None, None),
        (SUBMITTED, None, intake.pk, None),
        (STATUS, None, None, work_queue.pk),
    }
    # When one event type's choice is replaced, the others keep theirs
    set_choices(integration, subscriptions={CREATED: [template], STATUS: ALL})
    assert rows(integration) == {
        (CREATED, template.pk, None, None),
        (SUBMITTED, None, intake.pk, None),
        (STATUS, None, None, None),
    }


def test_every_one_and_chosen_ones_match_by_the_names_events_carry():
    # Given an integration taking every plan created, and chosen ones of the other types
    rule = IntegrationFilter(
        integration_id=uuid.uuid4(),
        organization_id=1,
        include_test_events=False,
        every=frozenset({CREATED}),
        scoped=frozenset(
            {
                (UPDATED, "sAI-ERComp"),
                (SUBMITTED, ("sAI-ERComp", "intake")),
                (STATUS, "triage"),
            }
        ),
    )
    # Then an event matches when its type is taken whole, or its scope was chosen
    assert matches(rule, event(CREATED), "any template")
    assert matches(rule, event(UPDATED), "sAI-ERComp")
    assert not matches(rule, event(UPDATED), "other-app")
    assert matches(rule, event(SUBMITTED, formName="intake"), "sAI-ERComp")
    assert not matches(rule, event(SUBMITTED, formName="intake"), "other-app")
    assert not matches(rule, event(SUBMITTED, formName="appointment"), "sAI-ERComp")
    assert matches(rule, event(STATUS, workQueueName="triage"), None)
    assert not matches(rule, event(STATUS, workQueueName="lab"), None)
    # And a test user's event only where asked
    assert not matches(rule, event(CREATED, isTest=True), "sAI-ERComp")


def test_the_fan_out_loads_every_integration_in_three_queries(
    org, template, work_queue, django_assert_num_queries
):
    intake = template.forms.get(name="intake")
    # Given integrations with every kind of subscription, and conditions
    first, _secret = make_integration(
        org,
        URL,
        partner_name="first",
        subscriptions={CREATED: ALL, UPDATED: [template], SUBMITTED: [intake]},
        conditions=[ConditionSpec("status", "text", "=done")],
    )
    second, _secret = make_integration(
        org, URL, partner_name="second", subscriptions={STATUS: [work_queue], SUBMITTED: ALL}
    )
    make_integration(org, URL, partner_name="off", subscriptions={CREATED: ALL}, is_active=False)
    # When the fan-out loads them: one query each for integrations, subscriptions, conditions
    with django_assert_num_queries(3):
        filters = {rule.integration_id: rule for rule in load_filters([org.pk])[org.pk]}
    # Then each active one is there with what it takes, by name
    assert set(filters) == {first.pk, second.pk}
    assert filters[first.pk].every == {CREATED}
    assert filters[first.pk].scoped == {
        (UPDATED, template.name),
        (SUBMITTED, (template.name, "intake")),
    }
    assert len(filters[first.pk].conditions) == 1
    assert filters[second.pk].every == {SUBMITTED}
    assert filters[second.pk].scoped == {(STATUS, work_queue.name)}


def test_a_subscription_given_twice_is_refused(org, template):
    integration, _secret = make_integration(org, URL)
    # By the services, with a message
    with pytest.raises(ValidationError) as refused:
        set_choices(integration, subscriptions={CREATED: [template, template]})
    assert refused.value.messages == ["The integration has this subscription already."]
    # And by PostgreSQL, also for "every one", which has no scope to tell the rows apart
    for scope in ({"template": template}, {}):
        WebhookSubscription.objects.create(
            organization=org, integration=integration, event_type=CREATED, **scope
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            WebhookSubscription.objects.create(
                organization=org, integration=integration, event_type=CREATED, **scope
            )


@pytest.mark.parametrize(
    ("event_type", "wrong"),
    [
        (CREATED, "form"),
        (UPDATED, "work_queue"),
        (SUBMITTED, "template"),
        (SUBMITTED, "work_queue"),
        (STATUS, "template"),
        (STATUS, "form"),
    ],
)
def test_a_scope_must_fit_its_event_type(org, template, work_queue, event_type, wrong):
    integration, _secret = make_integration(org, URL)
    scopes = {"template": template, "form": template.forms.first(), "work_queue": work_queue}
    row = WebhookSubscription(
        organization=org, integration=integration, event_type=event_type, **{wrong: scopes[wrong]}
    )
    # Model validation names the field that does not fit
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    label = EventType(event_type).label.lower()
    assert refused.value.message_dict == {wrong: [f"Not for {label} events."]}
    # And PostgreSQL refuses the row however it is written
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_the_api_reads_and_writes_subscriptions_as_before(world):
    organization = world.organization
    template = PlanTemplate.objects.filter(organization=organization).first()
    form = Form.objects.filter(organization=organization).first()
    queue = WorkQueue.objects.filter(organization=organization).first()
    # When a webhook is registered with every kind of choice (an id given twice)
    body = {
        "partnerName": "Acme",
        "url": "https://93.184.215.14/acme",
        "planCreated": "all",
        "formSubmitted": [form.pk, form.pk],
        "statusUpdated": [queue.pk],
    }
    created = world.client.post("/api/v1/webhooks/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    webhook = HttpIntegration.objects.get(pk=created.json()["id"])
    # Then they are its subscriptions, the id once, and read back as given
    assert rows(webhook) == {
        (CREATED, None, None, None),
        (SUBMITTED, None, form.pk, None),
        (STATUS, None, None, queue.pk),
    }
    shown = created.json()
    assert (shown["planCreated"], shown["planUpdated"]) == ("all", [])
    assert (shown["formSubmitted"], shown["statusUpdated"]) == ([form.pk], [queue.pk])
    # When a PATCH changes one choice, the others stay
    changed = world.client.patch(
        f"/api/v1/webhooks/{webhook.pk}/",
        json.dumps({"planCreated": [template.pk], "statusUpdated": "all"}),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert rows(webhook) == {
        (CREATED, template.pk, None, None),
        (SUBMITTED, None, form.pk, None),
        (STATUS, None, None, None),
    }
    assert changed.json()["planCreated"] == [template.pk]
    assert changed.json()["statusUpdated"] == "all"


def admin_post(subscriptions: list[dict], initial: int = 0, **fields) -> dict:
    """The add or change form as posted: the integration, its subscription rows."""
    data = {"partner_name": "Acme", "url": URL, "is_active": "on", "custom_headers": "{}"}
    for prefix in ("conditions", "events"):
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
    data["subscriptions-TOTAL_FORMS"] = str(len(subscriptions))
    data["subscriptions-INITIAL_FORMS"] = str(initial)
    for index, row in enumerate(subscriptions):
        data.update({f"subscriptions-{index}-{name}": value for name, value in row.items()})
    return {**data, **fields}


def test_the_admin_saves_subscriptions_through_the_services(
    client, hrh_administrator, org, template, work_queue
):
    client.force_login(hrh_administrator)
    intake = template.forms.get(name="intake")
    # When an administrator adds an integration with three subscriptions
    response = client.post(
        ADD_URL,
        admin_post(
            [
                {"event_type": CREATED},
                {"event_type": SUBMITTED, "form": intake.pk},
                {"event_type": STATUS, "work_queue": work_queue.pk},
            ]
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    # Then they are saved, with the secret the services generated
    integration = HttpIntegration.objects.get()
    assert integration.organization == org and integration.secret.startswith("whsec_")
    assert rows(integration) == {
        (CREATED, None, None, None),
        (SUBMITTED, None, intake.pk, None),
        (STATUS, None, None, work_queue.pk),
    }
    assert response.url == reverse("admin:integrations_httpintegration_changelist")
    saved_at = integration.updated_at
    # When one row is removed and one added on its page
    existing = {row.event_type: row for row in integration.subscriptions.all()}
    change = reverse("admin:integrations_httpintegration_change", args=[integration.pk])
    kept = [
        {"id": existing[event_type].pk, "integration": integration.pk, **scope}
        for event_type, scope in (
            (CREATED, {"event_type": CREATED, "DELETE": "on"}),
            (SUBMITTED, {"event_type": SUBMITTED, "form": intake.pk}),
            (STATUS, {"event_type": STATUS, "work_queue": work_queue.pk}),
        )
    ]
    response = client.post(
        change, admin_post([*kept, {"event_type": UPDATED, "template": template.pk}], initial=3)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    # Then the services replaced them (and the fan-out's cache sees a new version)
    integration.refresh_from_db()
    assert rows(integration) == {
        (UPDATED, template.pk, None, None),
        (SUBMITTED, None, intake.pk, None),
        (STATUS, None, None, work_queue.pk),
    }
    assert integration.updated_at > saved_at


@pytest.mark.parametrize(
    ("subscriptions", "problem"),
    [
        (
            [{"event_type": CREATED}, {"event_type": CREATED}],
            "“Plan created: every template” is there twice.",
        ),
        (
            [{"event_type": UPDATED, "template": "TEMPLATE"}, {"event_type": UPDATED}],
            "“Plan updated: every template” takes the chosen ones too: keep either it or them.",
        ),
        ([{"event_type": SUBMITTED, "template": "TEMPLATE"}], "Not for form submitted events."),
    ],
)
def test_the_admin_refuses_rows_the_services_would(
    client, hrh_administrator, template, subscriptions, problem
):
    client.force_login(hrh_administrator)
    for row in subscriptions:
        row.update({name: template.pk for name, value in row.items() if value == "TEMPLATE"})
    response = client.post(ADD_URL, admin_post(subscriptions))
    assert response.status_code == 200
    [formset] = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "subscriptions"
    ]
    shown = [
        *formset.non_form_errors(),
        *(m for e in formset.errors for v in e.values() for m in v),
    ]
    assert shown == [problem]
    assert not HttpIntegration.objects.exists()


def test_a_superuser_adds_one_to_the_organization_chosen_and_cannot_move_it(
    client, superuser, org, other_org, template
):
    client.force_login(superuser)
    # When a platform superuser adds an integration for hrh, with a subscription of hrh's
    response = client.post(
        ADD_URL,
        admin_post([{"event_type": CREATED, "template": template.pk}], organization=org.pk),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    integration = HttpIntegration.objects.get()
    assert integration.organization == org
    assert rows(integration) == {(CREATED, template.pk, None, None)}
    # Then on its page the organization is shown, not offered: it stays with its rows
    change = reverse("admin:integrations_httpintegration_change", args=[integration.pk])
    page = client.get(change)
    assert "organization" not in page.context["adminform"].form.fields
    existing = integration.subscriptions.get()
    row = {"id": existing.pk, "integration": integration.pk, "event_type": CREATED}
    client.post(
        change,
        admin_post([{**row, "template": template.pk}], initial=1, organization=other_org.pk),
    )
    integration.refresh_from_db()
    assert integration.organization == org
