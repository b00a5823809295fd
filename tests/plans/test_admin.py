"""Plans and work queue items change in the admin only through plans/services/."""

import pytest
from django.urls import reverse

from plans import services
from plans.models import FormAssignment, Plan, RoleAssignment, WorkQueueItemStatusChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def hrh_client(client, hrh_administrator):
    client.force_login(hrh_administrator)
    return client


@pytest.fixture
def item(actor, work_queue, plan):
    return services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="Labs")


def item_change_data(item, **changes) -> dict:
    data = {
        "status": item.status_id,
        "priority": item.priority,
        "service_location": item.service_location_id or "",
        "queue_position": item.queue_position or "",
        "status_changes-TOTAL_FORMS": "0",
        "status_changes-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_adding_a_plan_goes_through_assign_plan(hrh_client, template, patient):
    # Given the demo template (Patient primary, intake assigned at once)
    # When hrh's administrator adds a plan for the patient
    response = hrh_client.post(
        reverse("admin:plans_plan_add"),
        {
            "template": template.pk,
            "user": patient.pk,
            "title": "From the admin",
            "custom_fields": "{}",
        },
    )
    # Then the service made it: the primary role and the at-once form assignment exist
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = Plan.objects.get(title="From the admin")
    assert RoleAssignment.objects.filter(plan=plan, role__role_id="Patient", user=patient).exists()
    assert FormAssignment.objects.filter(plan=plan, definition__form__name="intake").exists()


def test_service_refusal_on_add_is_shown_on_the_form(hrh_client, template, nurse):
    # Given a nurse, who may not hold the template's primary Patient role
    # When the administrator adds a plan for the nurse
    response = hrh_client.post(
        reverse("admin:plans_plan_add"),
        {"template": template.pk, "user": nurse.pk, "custom_fields": "{}"},
    )
    # Then the page shows the service's refusal; nothing is created
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Plan.objects.filter(user=nurse).exists()


def test_changing_a_plan_calls_update_plan(hrh_client, plan):
    response = hrh_client.get(reverse("admin:plans_plan_change", args=[plan.pk]))
    assert response.status_code == 200
    data = {
        "title": "Renamed",
        "status": plan.status,
        "risk_status": "high",
        "custom_fields": '{"score": 5}',
        **management_forms(response),
    }
    response = hrh_client.post(reverse("admin:plans_plan_change", args=[plan.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert (plan.title, plan.risk_status, plan.custom_fields) == ("Renamed", "high", {"score": 5})


def test_invalid_custom_field_is_a_field_error_and_changes_nothing(hrh_client, plan):
    response = hrh_client.get(reverse("admin:plans_plan_change", args=[plan.pk]))
    data = {
        "title": "Not saved",
        "status": plan.status,
        "risk_status": "",
        "custom_fields": '{"triage": "purple"}',
        **management_forms(response),
    }
    response = hrh_client.post(reverse("admin:plans_plan_change", args=[plan.pk]), data)
    assert response.status_code == 200
    assert "custom_fields" in response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert plan.title == "ER follow-up"


def test_changing_an_items_status_records_the_old_one(hrh_client, item, work_queue):
    # Given an item waiting in the triage queue
    in_service = work_queue.statuses.get(status_id="in_service")
    # When the administrator changes its status in the admin
    response = hrh_client.post(
        reverse("admin:plans_workqueueitem_change", args=[item.pk]),
        item_change_data(item, status=in_service.pk, priority=3),
    )
    # Then the item moved, and its history keeps the old status
    assert response.status_code == 302, response.context["adminform"].form.errors
    item.refresh_from_db()
    assert (item.status, item.priority) == (in_service, 3)
    change = WorkQueueItemStatusChange.objects.filter(item=item).latest("changed_at")
    assert (change.old_status.status_id, change.new_status) == ("waiting", in_service)


def test_status_of_another_queue_is_refused_with_200(hrh_client, item, org):
    from tests.fixtures.domain import make_work_queue

    foreign_status = make_work_queue(org, "lab").statuses.get(status_id="done")
    response = hrh_client.post(
        reverse("admin:plans_workqueueitem_change", args=[item.pk]),
        item_change_data(item, status=foreign_status.pk),
    )
    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors


def test_service_error_on_item_add_shows_under_its_field(hrh_client, plan, work_queue, org):
    # Given a service location of another queue of hrh (the add form cannot know the queue yet)
    from tests.fixtures.domain import make_work_queue

    elsewhere = make_work_queue(org, "lab").service_locations.first()
    # When the administrator adds an item with it
    response = hrh_client.post(
        reverse("admin:plans_workqueueitem_add"),
        {
            "queue": work_queue.pk,
            "plan": plan.pk,
            "title": "X",
            "priority": 0,
            "service_location": elsewhere.pk,
        },
    )
    # Then the service's message is shown under service_location, not a server error
    assert response.status_code == 200
    assert "service_location" in response.context["adminform"].form.errors
    assert not plan.work_queue_items.exists()


def test_adding_an_item_goes_through_the_service(hrh_client, plan, work_queue):
    response = hrh_client.post(
        reverse("admin:plans_workqueueitem_add"),
        {"queue": work_queue.pk, "plan": plan.pk, "title": "Blood test", "priority": 1},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    item = plan.work_queue_items.get()
    assert (item.ticket_number, item.status.status_id) == (1, "waiting")
    assert item.status_changes.count() == 1


def test_role_assignment_inline_assigns_through_the_service(hrh_client, plan, org):
    from healix.models import UserType
    from tests.fixtures.domain import make_user

    other_nurse = make_user(org, "nurse-2", UserType.STAFF)
    response = hrh_client.get(reverse("admin:plans_plan_change", args=[plan.pk]))
    data = {
        "title": plan.title,
        "status": plan.status,
        "risk_status": "",
        "custom_fields": "{}",
        **management_forms(response),
    }
    nurse_row = next(
        index
        for index, ra in enumerate(plan.role_assignments.order_by("role__role_id"))
        if ra.role.role_id == "Nurse"
    )
    data[f"role_assignments-{nurse_row}-user"] = other_nurse.pk
    response = hrh_client.post(reverse("admin:plans_plan_change", args=[plan.pk]), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"]
    assert plan.role_assignments.get(role__role_id="Nurse").user == other_nurse


def management_forms(response) -> dict:
    """The POST data of a change page's inlines as the page rendered them (unchanged)."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(
            {
                f"{formset.prefix}-TOTAL_FORMS": str(len(formset.initial_forms)),
                f"{formset.prefix}-INITIAL_FORMS": str(len(formset.initial_forms)),
            }
        )
        for form in formset.initial_forms:
            for name, field in form.fields.items():
                value = form.initial.get(name, field.initial)
                if hasattr(value, "pk"):
                    value = value.pk
                if value is not None:
                    data[form.add_prefix(name)] = value
    return data


def page_data(response) -> dict:
    """What the browser posts back for an untouched change page: each field's value and the
    hidden "initial-" copy of what the page showed."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        value = "" if value is None else value
        data[name] = value
        if field.show_hidden_initial:
            data[form.add_initial_prefix(name)] = value
    return {**data, **management_forms(response)}


def test_a_stale_item_page_does_not_undo_a_status_change_made_meanwhile(hrh_client, item, actor):
    # Given the administrator opened the item page while the item was waiting
    url = reverse("admin:plans_workqueueitem_change", args=[item.pk])
    data = page_data(hrh_client.get(url))
    # And meanwhile someone else (a rule, another user) moved the item to in_service
    services.change_work_queue_item_status(actor=actor, item=item, status="in_service")
    # When the administrator saves the page having changed only the priority
    data["priority"] = 4
    response = hrh_client.post(url, data)
    # Then the priority changed and the status change made meanwhile stands
    assert response.status_code == 302, response.context["adminform"].form.errors
    item.refresh_from_db()
    assert (item.status.status_id, item.priority) == ("in_service", 4)
    assert item.status_changes.count() == 2


def test_a_stale_plan_page_keeps_custom_fields_set_meanwhile(hrh_client, plan, actor):
    # Given the plan page opened with triage=green
    services.update_plan(actor=actor, plan=plan, custom_fields={"triage": "green"})
    url = reverse("admin:plans_plan_change", args=[plan.pk])
    data = page_data(hrh_client.get(url))
    # And meanwhile a score was set elsewhere
    services.update_plan(actor=actor, plan=plan, custom_fields={"score": 7})
    # When the administrator renames the plan and removes triage in the editor
    data["title"] = "Renamed"
    data["custom_fields"] = "{}"
    response = hrh_client.post(url, data)
    # Then triage is cleared, the title changed, and the score set meanwhile is kept
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan.refresh_from_db()
    assert (plan.title, plan.custom_fields) == ("Renamed", {"score": 7})
