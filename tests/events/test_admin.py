"""The event log in the admin: read-only, one organization's events, with its filters."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import OutboxEvent
from healix.observability.tracing import trace
from plans import services

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:events_outboxevent_changelist"


@pytest.fixture
def hrh_client(client, hrh_administrator):
    # Group grants are healix/admin/groups.py's business; here the permission is given directly.
    hrh_administrator.user_permissions.add(Permission.objects.get(codename="view_outboxevent"))
    client.force_login(hrh_administrator)
    return client


@pytest.fixture
def events_of_both(actor, plan, other_plan):
    with trace("trace-of-the-update"):
        services.update_plan(actor=actor, plan=plan, risk_status="high")


def listed(response) -> list[OutboxEvent]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_staff_see_only_their_organizations_events(hrh_client, events_of_both, plan, other_plan):
    shown = listed(hrh_client.get(reverse(CHANGELIST)))
    assert {event.plan_id for event in shown} == {plan.pk}
    assert len(shown) == 2
    other_event = OutboxEvent.objects.get(plan_id=other_plan.pk)
    url = reverse("admin:events_outboxevent_change", args=[other_event.pk])
    assert hrh_client.get(url).status_code == 404


def test_filters_by_type_plan_trace_and_published(hrh_client, events_of_both, plan):
    url = reverse(CHANGELIST)
    page = hrh_client.get(url, {"event_type__exact": "planUpdated"}).content.decode()
    # The id filters are text boxes that keep the other filters
    assert '<input type="text" name="plan_id"' in page
    assert '<input type="text" name="trace_id"' in page
    assert '<input type="hidden" name="event_type__exact" value="planUpdated">' in page
    by_type = listed(hrh_client.get(url, {"event_type__exact": "planUpdated"}))
    assert [event.event_type for event in by_type] == ["planUpdated"]
    by_trace = listed(hrh_client.get(url, {"trace_id": "trace-of-the-update"}))
    assert [event.event_type for event in by_trace] == ["planUpdated"]
    by_plan = listed(hrh_client.get(url, {"plan_id": str(plan.pk)}))
    assert len(by_plan) == 2
    assert listed(hrh_client.get(url, {"plan_id": "not-a-uuid"})) == []
    assert len(listed(hrh_client.get(url, {"published": "no"}))) == 2
    assert listed(hrh_client.get(url, {"published": "yes"})) == []


def test_the_log_is_read_only(hrh_client, superuser, client, events_of_both, plan):
    event = OutboxEvent.objects.filter(plan_id=plan.pk).first()
    page = hrh_client.get(reverse("admin:events_outboxevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert b"&quot;messageType&quot;: &quot;healix.hrh." in page.content  # the envelope
    assert hrh_client.get(reverse("admin:events_outboxevent_add")).status_code == 403
    delete = reverse("admin:events_outboxevent_delete", args=[event.pk])
    assert hrh_client.post(delete, {"post": "yes"}).status_code == 403
    client.force_login(superuser)
    assert client.get(reverse("admin:events_outboxevent_add")).status_code == 403
    assert OutboxEvent.objects.filter(pk=event.pk).exists()
