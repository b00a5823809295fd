"""The demo that `make run` loads."""

import pytest
from django.core.management import call_command

from healix.models import Organization
from plans.models import FormSubmission, Plan, WorkQueueItem

pytestmark = pytest.mark.django_db


def test_load_demo_builds_the_demo_once():
    # When the demo is loaded twice
    call_command("load_demo")
    call_command("load_demo")
    # Then there is one hrh organization with its template, plans and activity
    hrh = Organization.objects.get(slug="hrh")
    plans = Plan.objects.filter(organization=hrh)
    assert plans.count() == 2
    assert {plan.template.name for plan in plans} == {"sAI-ERComp"}
    assert plans.filter(user__is_test=True).count() == 1
    assert FormSubmission.objects.filter(organization=hrh).count() == 1
    item = WorkQueueItem.objects.get(organization=hrh)
    assert (item.queue.name, item.status.status_id, item.ticket_number) == (
        "triage",
        "in_service",
        1,
    )
    assert [s.status_id for s in item.queue.statuses.all()] == ["waiting", "in_service", "done"]
    # And every event the demo caused carries the command's one trace id
    from events.models import OutboxEvent

    trace_ids = set(OutboxEvent.objects.filter(organization=hrh).values_list("trace_id", flat=True))
    assert len(trace_ids) == 1
    # (created x2, submitted, status updated, and planUpdated by the seed's example rule)
    assert OutboxEvent.objects.filter(organization=hrh).count() == 5
    # And the seed's example rule gave Pat Jones the appointment form with the slot
    from plans.models import FormAssignment

    appointment = FormAssignment.objects.get(organization=hrh, definition__form__name="appointment")
    assert appointment.prefill == {"slot": "2026-12-01T09:30"}


def test_ensure_admin_never_promotes_an_organizations_user(monkeypatch, org):
    # Given an hrh user who happens to be called admin
    from django.core.management.base import CommandError

    from healix.models import User
    from tests.fixtures.domain import make_user

    make_user(org, "admin")
    monkeypatch.setenv("HEALIX_ADMIN_PASSWORD", "a-long-generated-password")
    # When make run ensures its admin login
    with pytest.raises(CommandError) as excinfo:
        call_command("ensure_admin")
    # Then it refuses, and the user stays an ordinary hrh user
    assert "belongs to organization hrh" in str(excinfo.value)
    assert not User.objects.get(username="admin").is_superuser
