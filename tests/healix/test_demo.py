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
