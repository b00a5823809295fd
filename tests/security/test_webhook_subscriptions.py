"""Two organizations and their webhook subscriptions: a subscription of hrh can never name
other's template, form or work queue (not through the REST API, the admin, the services, nor
PostgreSQL itself), and other's events never reach hrh's endpoint, even where both
organizations use the same template, form and work queue names."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from events.models import OutboxEvent
from events.types import EventType
from integrations.models import HttpIntegration, WebhookDelivery, WebhookSubscription
from integrations.webhooks.fanout import fan_out, parse_event
from integrations.webhooks.services import ALL, set_choices
from plans import services
from templates.models import Form, PlanTemplate, WorkQueue
from tests.fixtures.webhooks import make_integration

pytestmark = pytest.mark.django_db

URL = "https://127.0.0.1/hook"
# Each scope: its event type, the API's member and how it names the kind.
SCOPES = {
    "template": (EventType.PLAN_CREATED, "planCreated", "template"),
    "form": (EventType.FORM_SUBMITTED, "formSubmitted", "form"),
    "work_queue": (EventType.WORK_QUEUE_ITEM_STATUS_UPDATED, "statusUpdated", "work queue"),
}


@pytest.fixture(autouse=True)
def _loopback(webhook_settings):
    pass


def scope_rows(organization) -> dict:
    """An organization's template, form and work queue, by scope field."""
    return {
        "template": PlanTemplate.objects.filter(organization=organization).first(),
        "form": Form.objects.filter(organization=organization, name="intake").first(),
        "work_queue": WorkQueue.objects.filter(organization=organization).first(),
    }


def subscriptions() -> set[tuple]:
    return set(
        WebhookSubscription.objects.values_list(
            "organization_id", "integration_id", "event_type", "template", "form", "work_queue"
        )
    )


@pytest.mark.parametrize("scope", SCOPES)
def test_the_api_refuses_another_organizations_rows(world, other_world, scope):
    _event_type, member, kind = SCOPES[scope]
    theirs = scope_rows(other_world.organization)[scope]
    before = subscriptions()
    # When hrh's key registers or changes a webhook naming other's row
    path = f"/api/v1/webhooks/{world.webhook.pk}/"
    body = {member: [theirs.pk]}
    answers = [
        world.client.post(
            "/api/v1/webhooks/",
            json.dumps({"partnerName": "Acme", "url": "https://93.184.215.14/x", **body}),
            content_type="application/json",
        ),
        world.client.patch(path, json.dumps(body), content_type="application/json"),
    ]
    # Then both are a 400 at its place, worded as for an id that exists nowhere
    for answer in answers:
        assert answer.status_code == 400, answer.content
        [error] = answer.json()["errors"]
        assert error == {
            **error,
            "pointer": f"#/{member}/0",
            "detail": f"No {kind} {theirs.pk} here.",
        }
    # And no subscription changed, in either organization
    assert subscriptions() == before


@pytest.mark.parametrize("scope", SCOPES)
def test_the_admin_refuses_another_organizations_rows(
    client, hrh_administrator, org, template, work_queue, other_template, other_work_queue, scope
):
    event_type, _member, _kind = SCOPES[scope]
    theirs = scope_rows(other_template.organization)[scope]
    integration, _secret = make_integration(org, URL, subscriptions={event_type: ALL})
    before = subscriptions()
    client.force_login(hrh_administrator)
    # When hrh's administrator adds a subscription naming other's row, on a new integration
    # and on an existing one
    data = {"partner_name": "Acme", "url": URL, "is_active": "on", "custom_headers": "{}"}
    for prefix in ("conditions", "events"):
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
    data["subscriptions-INITIAL_FORMS"] = "0"
    data["subscriptions-TOTAL_FORMS"] = "1"
    data["subscriptions-0-event_type"] = event_type
    data[f"subscriptions-0-{scope}"] = str(theirs.pk)
    change = reverse("admin:integrations_httpintegration_change", args=[integration.pk])
    for page in (reverse("admin:integrations_httpintegration_add"), change):
        response = client.post(page, data)
        # Then the row is refused next to its field, as a choice that is not there
        assert response.status_code == 200
        [formset] = [
            inline.formset
            for inline in response.context["inline_admin_formsets"]
            if inline.formset.prefix == "subscriptions"
        ]
        assert "Select a valid choice" in str(formset.errors[0][scope])
        assert not formset.forms[0].fields[scope].queryset.filter(pk=theirs.pk).exists()
    # And nothing was saved
    assert HttpIntegration.objects.filter(organization=org).count() == 1
    assert subscriptions() == before


def test_the_services_and_postgresql_refuse_another_organizations_rows(
    org, template, work_queue, other_template, other_work_queue
):
    integration, _secret = make_integration(org, URL)
    theirs = scope_rows(other_template.organization)
    for scope, (event_type, _member, _kind) in SCOPES.items():
        # The services: a validation error naming the field
        with pytest.raises(ValidationError) as refused:
            set_choices(integration, subscriptions={event_type: [theirs[scope]]})
        assert refused.value.message_dict[scope][0].endswith("belongs to another organization.")
        # PostgreSQL: the composite key, however the row is written
        with pytest.raises(IntegrityError), transaction.atomic():
            WebhookSubscription.objects.create(
                organization=org,
                integration=integration,
                event_type=event_type,
                **{scope: theirs[scope]},
            )
    # Nor may a row of other's point at hrh's integration
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookSubscription.objects.create(
            organization=other_template.organization,
            integration=integration,
            event_type=EventType.PLAN_CREATED,
        )
    assert not WebhookSubscription.objects.exists()


def test_another_organizations_events_never_reach_our_endpoint(
    org, template, work_queue, other_org, other_actor, other_patient, other_template,
    other_work_queue,
):  # fmt: skip
    # Given hrh's integration taking every event, and another one taking its own template,
    # form and work queue, whose names other's are the same
    assert (template.name, work_queue.name) == (other_template.name, other_work_queue.name)
    everything, _secret = make_integration(
        org, URL, subscriptions=dict.fromkeys(EventType.values, ALL), include_test_events=True
    )
    mine = scope_rows(org)
    named, _secret = make_integration(
        org,
        URL,
        subscriptions={event_type: [mine[scope]] for scope, (event_type, _m, _k) in SCOPES.items()}
        | {EventType.PLAN_UPDATED: [template]},
    )
    theirs, _secret = make_integration(
        other_org, URL, subscriptions=dict.fromkeys(EventType.values, ALL)
    )
    # When other produces an event of every type
    plan = services.assign_plan(actor=other_actor, template=other_template, user=other_patient)
    services.update_plan(actor=other_actor, plan=plan, risk_status="high")
    services.submit_form(
        actor=other_actor, assignment=plan.form_assignments.get(), data={"age": 40}
    )
    item = services.create_work_queue_item(
        actor=other_actor, queue=other_work_queue, plan=plan, title="Visit"
    )
    services.change_work_queue_item_status(actor=other_actor, item=item, status="done")
    fan_out([parse_event(row.payload) for row in OutboxEvent.objects.order_by("id")])
    # Then every one of them went to other's integration, and none to hrh's
    delivered = WebhookDelivery.objects.values_list("integration_id", "event_type")
    assert {integration for integration, _type in delivered} == {theirs.pk}
    assert {event_type for _integration, event_type in delivered} == set(EventType.values)
    assert not WebhookDelivery.objects.filter(integration__in=[everything, named]).exists()
