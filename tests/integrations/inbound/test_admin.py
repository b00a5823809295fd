"""The admin: integration definitions (raw schema checked on save), inbound events read-only
with a re-run action, API keys shown once and kept to their organization."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from healix.models import OrganizationAPIKey
from integrations.inbound.services import ingest
from integrations.models import InboundEvent, IntegrationDefinition
from tests.fixtures.integrations import key_client, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def hrh_client(client, hrh_administrator):
    client.force_login(hrh_administrator)
    return client


def definition_form(definition: IntegrationDefinition, **changes) -> dict:
    data = {
        "template": definition.template_id,
        "subject": definition.subject,
        "description": definition.description,
        "raw_schema": "null",
        "fields-TOTAL_FORMS": "0",
        "fields-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_an_invalid_raw_schema_is_refused_on_save(hrh_client, template):
    definition = template.integrations.get()
    url = reverse("admin:integrations_integrationdefinition_change", args=[definition.pk])
    response = hrh_client.post(url, definition_form(definition, raw_schema='{"type": 12}'))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["raw_schema"]
    assert errors[0].startswith("Not a valid JSON Schema")
    # And a valid one replaces the derived schema
    raw = {"type": "object", "properties": {"planId": {}, "slot": {"type": "string"}}}
    response = hrh_client.post(url, definition_form(definition, raw_schema=json.dumps(raw)))
    assert response.status_code == 302
    definition.refresh_from_db()
    assert definition.raw_schema == raw


def test_a_reserved_field_name_is_refused(hrh_client, template):
    definition = template.integrations.get()
    url = reverse("admin:integrations_integrationdefinition_change", args=[definition.pk])
    field = definition.fields.get()
    data = definition_form(
        definition,
        **{
            "fields-TOTAL_FORMS": "1",
            "fields-INITIAL_FORMS": "1",
            "fields-0-id": str(field.pk),
            "fields-0-definition": str(definition.pk),
            "fields-0-position": "0",
            "fields-0-name": "planId",
            "fields-0-field_type": "string",
        },
    )
    response = hrh_client.post(url, data)
    assert response.status_code == 200
    assert "planId is reserved" in str(response.context["inline_admin_formsets"][0].formset.errors)


def test_template_editor_lists_its_integrations(hrh_client, template):
    response = hrh_client.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    assert response.status_code == 200
    assert "aiEngineTimeSlot" in response.content.decode()
    assert "timeSlot: string" in response.content.decode()


def test_rerun_accepts_a_rejected_event_after_the_fix(hrh_client, org, template, plan):
    # Given an event rejected because the definition lacked its field
    payload = json.dumps({"planId": str(plan.pk), "timeSlot": "x", "room": "B"})
    rejected = ingest(org, "aiEngineTimeSlot", payload, "nats")
    template.integrations.get().fields.create(name="room", field_type="string", position=1)
    # When an administrator re-runs it
    response = hrh_client.post(
        reverse("admin:integrations_inboundevent_changelist"),
        {"action": "rerun_rejected", "_selected_action": [str(rejected.event_id)]},
    )
    # Then it is accepted
    assert response.status_code == 302
    assert InboundEvent.objects.get(pk=rejected.event_id).status == "accepted"
    assert "Accepted 1" in next(str(m) for m in get_messages(response.wsgi_request))


def test_an_events_page_names_its_plans_by_title_and_links_them(hrh_client, org, plan):
    # Given an accepted event for a plan
    payload = json.dumps({"planId": str(plan.pk), "timeSlot": "2026-12-01T09:30"})
    event = ingest(org, "aiEngineTimeSlot", payload, "rest").event_id
    # When its page is opened
    page = hrh_client.get(reverse("admin:integrations_inboundevent_change", args=[event]))
    # Then its title names the subject and status, and the plan is named and linked, not an id
    html = page.content.decode()
    assert "aiEngineTimeSlot (accepted)" in html
    link = reverse("admin:plans_plan_change", args=[plan.pk])
    assert f'<a href="{link}">{plan}</a>' in html


def test_inbound_events_are_read_only_and_kept_to_their_organization(
    hrh_client, org, other_org, plan, other_plan
):
    ours = ingest(org, "aiEngineTimeSlot", "{bad", "rest").event_id
    theirs = ingest(other_org, "aiEngineTimeSlot", "{bad", "rest").event_id
    changelist = hrh_client.get(reverse("admin:integrations_inboundevent_changelist"))
    assert [e.pk for e in changelist.context["cl"].result_list] == [ours]
    url = reverse("admin:integrations_inboundevent_change", args=[theirs])
    assert hrh_client.get(url).status_code == 404
    page = hrh_client.get(reverse("admin:integrations_inboundevent_change", args=[ours]))
    assert page.status_code == 200 and b"Not valid JSON" in page.content
    assert hrh_client.post(reverse("admin:integrations_inboundevent_change", args=[ours]), {})
    assert InboundEvent.objects.get(pk=ours).status == "rejected"


def test_an_api_key_made_in_the_admin_is_shown_once_and_works(hrh_client, org, plan):
    response = hrh_client.post(
        reverse("admin:healix_organizationapikey_add"),
        {
            "name": "scheduler",
            "scopes": ["inbound:write"],
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    [message] = [m for m in shown if "The API key for" in m]
    key = message.split("The API key for scheduler is: ")[1].split(". ")[0]
    stored = OrganizationAPIKey.objects.get(name="scheduler")
    assert stored.organization == org
    assert stored.scopes == ["inbound:write"]
    assert stored.user.organization == org and not stored.user.has_usable_password()
    assert key not in response.content.decode().replace(message, "")
    body = {"planId": str(plan.pk), "timeSlot": "x"}
    assert post_json(key_client(key), "aiEngineTimeSlot", body).status_code == 202
    # And once revoked it no longer works
    OrganizationAPIKey.objects.filter(pk=stored.pk).update(revoked=True)
    assert post_json(key_client(key), "aiEngineTimeSlot", body).status_code == 401
