"""The admin keeps every organization's rows away from every other organization's staff."""

import pytest
from django.urls import reverse

from healix.models import User
from plans import services
from plans.models import Plan
from templates.models import PlanTemplate
from tests.fixtures.domain import make_template, make_work_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(actor, work_queue, plan):
    return services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="Mine")


@pytest.fixture
def other_item(other_actor, other_work_queue, other_plan):
    return services.create_work_queue_item(
        actor=other_actor, queue=other_work_queue, plan=other_plan, title="Theirs"
    )


@pytest.fixture
def both_organizations(template, other_template, plan, other_plan, item, other_item):
    """The same shape of data in hrh and in other."""


@pytest.fixture
def hrh_client(client, hrh_administrator):
    client.force_login(hrh_administrator)
    return client


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def changelist(model_label: str) -> str:
    return reverse(f"admin:{model_label.replace('.', '_')}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "model_label",
    ["templates.plantemplate", "templates.workqueue", "plans.plan", "plans.workqueueitem"],
)
def test_staff_changelists_show_only_their_organization(
    both_organizations, hrh_client, org, model_label
):
    # Given the same rows in hrh and in other
    # When hrh's administrator opens the changelist
    rows = listed(hrh_client.get(changelist(model_label)))
    # Then every row is hrh's, and there is at least one
    assert rows
    assert {row.organization_id for row in rows} == {org.pk}


def test_staff_user_list_hides_other_organizations_and_superusers(
    both_organizations, hrh_client, org, superuser, other_patient
):
    rows = listed(hrh_client.get(changelist("healix.user")))
    assert {row.organization_id for row in rows} == {org.pk}
    assert other_patient not in rows and superuser not in rows


def test_superuser_sees_both_organizations(both_organizations, superuser_client, org, other_org):
    for model_label in ("templates.plantemplate", "plans.plan", "plans.workqueueitem"):
        rows = listed(superuser_client.get(changelist(model_label)))
        assert {row.organization_id for row in rows} == {org.pk, other_org.pk}


@pytest.mark.parametrize("suffix", ["change", "history", "delete"])
@pytest.mark.parametrize(
    "name", ["other_template", "other_plan", "other_item", "other_work_queue", "other_patient"]
)
def test_other_organizations_objects_are_404(both_organizations, hrh_client, request, name, suffix):
    # Given an object of the other organization
    obj = request.getfixturevalue(name)
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{suffix}", args=[obj.pk])
    # When hrh's administrator opens its URL, Then it does not exist (no redirect, no message)
    assert hrh_client.get(url).status_code == 404


def test_other_organizations_form_is_404(both_organizations, hrh_client, other_template):
    other_form = other_template.forms.first()
    assert hrh_client.get(change_url(other_form)).status_code == 404


def test_plan_add_form_offers_only_own_templates_and_users(
    both_organizations, hrh_client, template, other_template, patient, other_patient
):
    response = hrh_client.get(reverse("admin:plans_plan_add"))
    fields = response.context["adminform"].form.fields
    assert list(fields["template"].queryset) == [template]
    users = set(fields["user"].queryset)
    assert patient in users and other_patient not in users
    assert str(other_template.pk) not in response.content.decode().split('name="template"')[1][:400]


def test_posting_another_organizations_template_is_refused(
    both_organizations, hrh_client, other_template, patient
):
    # When hrh's administrator forges a POST with the other organization's template
    response = hrh_client.post(
        reverse("admin:plans_plan_add"),
        {"template": other_template.pk, "user": patient.pk, "custom_fields": "{}"},
    )
    # Then the form refuses it, and no plan is created in either organization
    assert response.status_code == 200
    assert "template" in response.context["adminform"].form.errors
    assert not Plan.objects.filter(template=other_template, user=patient).exists()


def test_form_assignment_choices_are_this_templates(
    both_organizations, hrh_client, template, other_template
):
    response = hrh_client.get(change_url(template))
    formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model._meta.model_name == "formassignmentdefinition"
    )
    form = formset.forms[0]
    assert set(form.fields["form"].queryset) == set(template.forms.all())
    assert set(form.fields["role"].queryset) == set(template.roles.all())


def test_search_does_not_surface_other_organizations(
    both_organizations, hrh_client, org, other_patient
):
    assert listed(hrh_client.get(changelist("healix.user"), {"q": other_patient.username})) == []
    rows = listed(hrh_client.get(changelist("plans.plan"), {"q": "sAI-ERComp"}))
    assert rows and {row.organization_id for row in rows} == {org.pk}


def test_list_filters_do_not_name_other_organizations_rows(
    both_organizations, hrh_client, org, template, work_queue
):
    # Given two templates and two queues in hrh (a filter with one choice is not shown)
    second_template = make_template(org, "second")
    second_queue = make_work_queue(org, "second")
    # When hrh's administrator opens the plan and item changelists
    plan_filters = hrh_client.get(changelist("plans.plan")).context["cl"].filter_specs
    item_filters = hrh_client.get(changelist("plans.workqueueitem")).context["cl"].filter_specs
    # Then the template and queue filters name hrh's rows only, and there is no org filter
    assert choices_of(plan_filters, "template") == {template.pk, second_template.pk}
    assert choices_of(item_filters, "queue") == {work_queue.pk, second_queue.pk}
    assert not any(spec.field_path == "organization" for spec in plan_filters + item_filters)


def choices_of(filter_specs, field_path: str) -> set:
    spec = next(spec for spec in filter_specs if getattr(spec, "field_path", "") == field_path)
    return {pk for pk, _name in spec.lookup_choices}


def test_autocomplete_offers_only_own_plans(both_organizations, hrh_client, plan, other_plan):
    response = hrh_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "plans", "model_name": "workqueueitem", "field_name": "plan", "term": ""},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(plan.pk)]


def test_new_template_gets_the_staff_users_organization(hrh_client, org, editor_groups):
    response = hrh_client.post(
        reverse("admin:templates_plantemplate_add"),
        {
            "name": "fresh",
            "title": "Fresh",
            "description": "",
            **empty_inlines("roles", "forms", "custom_fields"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert PlanTemplate.objects.get(name="fresh").organization == org


def test_duplicate_template_name_is_a_form_error_not_a_crash(hrh_client, template):
    response = hrh_client.post(
        reverse("admin:templates_plantemplate_add"),
        {"name": template.name, **empty_inlines("roles", "forms", "custom_fields")},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors


def test_staff_cannot_reach_organizations_or_make_superusers(hrh_client, hrh_administrator):
    assert hrh_client.get(changelist("healix.organization")).status_code == 403
    form = hrh_client.get(change_url(hrh_administrator)).context["adminform"].form
    assert "is_superuser" not in form.fields and "organization" not in form.fields
    assert "user_permissions" not in form.fields


def test_staff_adds_users_to_their_own_organization(hrh_client, org):
    response = hrh_client.post(
        reverse("admin:healix_user_add"),
        {"username": "new-nurse", "user_type": "STAFF", "usable_password": "false"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(username="new-nurse").organization == org


def empty_inlines(*prefixes: str) -> dict:
    """Management-form data of inline formsets that submit no rows."""
    data = {}
    for prefix in prefixes:
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def test_item_add_form_offers_only_own_queues_plans_statuses_and_locations(
    both_organizations, hrh_client, org
):
    # When hrh's administrator opens the add-item page
    fields = hrh_client.get(reverse("admin:plans_workqueueitem_add")).context["adminform"].form
    # Then every choice of every foreign key belongs to hrh
    assert {queue.organization_id for queue in fields.fields["queue"].queryset} == {org.pk}
    assert {plan.organization_id for plan in fields.fields["plan"].queryset} == {org.pk}
    for name in ("status", "service_location"):
        rows = list(fields.fields[name].queryset)
        assert rows and {row.queue.organization_id for row in rows} == {org.pk}


def test_role_assignment_inline_offers_only_own_users(
    both_organizations, hrh_client, plan, org, other_patient
):
    response = hrh_client.get(change_url(plan))
    formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == "role_assignments"
    )
    users = set(formset.forms[0].fields["user"].queryset)
    assert users and {user.organization_id for user in users} == {org.pk}
    assert other_patient not in users


def test_form_add_page_offers_only_own_templates(both_organizations, hrh_client, org):
    # (On an existing form the template is read-only: a form never moves between templates.)
    response = hrh_client.get(reverse("admin:templates_form_add"))
    templates = list(response.context["adminform"].form.fields["template"].queryset)
    assert templates and {t.organization_id for t in templates} == {org.pk}


@pytest.mark.parametrize(
    ("url_name", "status"),
    [
        ("admin:templates_plantemplate_changelist", 200),
        ("admin:templates_workqueue_changelist", 200),
        ("admin:templates_plantemplate_add", 200),
        ("admin:plans_plan_changelist", 403),
        ("admin:plans_workqueueitem_changelist", 403),
        ("admin:healix_user_changelist", 403),
        ("admin:healix_organization_changelist", 403),
    ],
)
def test_content_managers_edit_templates_and_queues_only(
    both_organizations, client, hrh_content_manager, url_name, status
):
    client.force_login(hrh_content_manager)
    assert client.get(reverse(url_name)).status_code == status
