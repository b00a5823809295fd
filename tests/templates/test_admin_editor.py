"""Every registered admin renders its pages for the demo data (a smoke test), and the
template editor links each form to its field editor."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from dev.demo import DEMO_ORG_SLUG, ensure_demo_integration, load_demo
from healix.models import Organization, OrganizationAPIKey, User
from integrations.inbound.services import ingest
from integrations.models import InboundSource, UnroutableMessage
from integrations.webhooks.services import send_test_event
from plans import services
from plans.models import FormAssignment, Plan
from templates.models import PlanTemplate, WorkQueue

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)


@pytest.fixture
def demo(editor_groups):
    """The demo organization, with a work queue item and a form submission added."""
    load_demo()
    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    actor = User.objects.filter(organization=organization, user_type="ADMIN").first()
    plan = organization_plans(organization).first() or services.assign_plan(
        actor=actor,
        template=organization_templates(organization).first(),
        user=User.objects.filter(organization=organization, user_type="USER").first(),
    )
    queue = WorkQueue.objects.filter(organization=organization).first()
    if not plan.work_queue_items.exists():
        services.create_work_queue_item(actor=actor, queue=queue, plan=plan, title="Smoke")
    assignment = FormAssignment.objects.filter(plan=plan, status="ASSIGNED").first()
    if assignment is not None:
        fields = assignment.definition.form.fields.all()
        data = {field.name: sample_value(field) for field in fields if field.required}
        services.submit_form(actor=actor, assignment=assignment, data=data)
    # Rows of the integration pages: an API key, an inbound event, an unroutable message.
    OrganizationAPIKey.objects.create_key(organization=organization, name="smoke")
    ingest(organization, "aiEngineTimeSlot", b"{not json", InboundSource.REST)
    UnroutableMessage.objects.create(subject="healix.nobody.inbound.x", reason="No organization")
    # A webhook delivery of the demo's HTTP integration (never sent: no worker runs here).
    send_test_event(ensure_demo_integration(organization))
    return organization


def organization_plans(organization):
    return Plan.objects.filter(organization=organization)


def organization_templates(organization):
    return PlanTemplate.objects.filter(organization=organization)


def sample_value(field):
    return {
        "number": 1,
        "boolean": True,
        "choice": (field.choices or ["x"])[0],
        "choices": (field.choices or ["x"])[:1],
        "date": "2025-01-01",
        "datetime": "2025-01-01T10:00:00+00:00",
    }.get(field.field_type, "text")


def some_row(model_admin, user):
    request = RequestFactory().get("/")
    request.user = user
    return model_admin.get_queryset(request).first()


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _a in REGISTERED]
)
@pytest.mark.parametrize("who", ["superuser", "demo_administrator"])
def test_every_admin_page_renders(client, demo, request, model, model_admin, who):
    # Given a superuser or the demo organization's administrator
    user = request.getfixturevalue(who) if who == "superuser" else administrator_of(demo)
    client.force_login(user)
    fake = RequestFactory().get("/")
    fake.user = user
    info = (model._meta.app_label, model._meta.model_name)
    if not model_admin.has_view_permission(fake):
        # Then pages out of reach are refused, never a server error
        assert client.get(admin_url(info, "changelist")).status_code == 403
        return
    # When they open the changelist, the add page and a change page
    assert client.get(admin_url(info, "changelist")).status_code == 200
    if model_admin.has_add_permission(fake):
        assert client.get(admin_url(info, "add")).status_code == 200
    row = some_row(model_admin, user)
    assert row is not None, f"the demo has no {model._meta.label} to show"
    # Then each renders
    assert client.get(admin_url(info, "change", row.pk)).status_code == 200


def admin_url(info: tuple[str, str], view: str, *args) -> str:
    app_label, model_name = info
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def administrator_of(organization):
    user = User.objects.create_user(
        "smoke-admin", organization=organization, user_type="ADMIN", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Administrators"))
    return user


def test_template_page_links_to_each_forms_field_editor(client, superuser, template):
    client.force_login(superuser)
    html = client.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    for form in template.forms.all():
        assert reverse("admin:templates_form_change", args=[form.pk]) in html.content.decode()
    fields_page = client.get(reverse("admin:templates_form_change", args=[form.pk]))
    inline = fields_page.context["inline_admin_formsets"][0].formset
    positions = [f.instance.position for f in inline.initial_forms]
    assert positions == sorted(positions)


def test_two_primary_roles_in_one_save_are_a_form_error(client, hrh_administrator):
    # Given the add-template page, with two new roles both ticked primary
    client.force_login(hrh_administrator)
    url = reverse("admin:templates_plantemplate_add")
    page = client.get(url)
    data = {"name": "two-primaries", "title": "", "description": ""}
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = "2" if prefix == "roles" else "0"
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    for index, role_id in enumerate(["Patient", "Guardian"]):
        data[f"roles-{index}-role_id"] = role_id
        data[f"roles-{index}-name"] = role_id
        data[f"roles-{index}-is_primary"] = "on"
    # When it is saved
    response = client.post(url, data)
    # Then the page shows the error (no server error) and nothing is saved
    assert response.status_code == 200
    roles_formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "roles"
    )
    assert roles_formset.non_form_errors() == ["A template has at most one primary role."]
    assert not PlanTemplate.objects.filter(name="two-primaries").exists()


def test_template_page_links_to_its_integrations_table_rules_evaluations_and_plans(
    client, superuser, template, plan
):
    # Given a template with a plan
    client.force_login(superuser)
    # When its page is opened
    html = client.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    page = html.content.decode()
    # Then it links to each page about the template, filtered to it
    wanted = f"?template__id__exact={template.pk}"
    for name in (
        "integrations_integrationdefinition",
        "rules_rule",
        "rules_ruleevaluation",
        "plans_plan",
    ):
        url = reverse(f"admin:{name}_changelist") + wanted
        assert f'href="{url}"' in page.replace("&amp;", "&"), name
        # And each of those pages answers with the filter applied
        assert client.get(url).status_code == 200
    assert reverse("admin:rules_decisiontable_change", args=[template.pk]) in page
    assert "plans (1)" in page
