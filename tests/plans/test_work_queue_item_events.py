"""A workQueueItemStatusUpdated event describes the item as the whole change left it, whichever
path (the services, the REST API, the admin) made the change and whichever fields came with
the status."""

import itertools
import json

import pytest
from django.urls import reverse

from plans import services
from plans.models import WorkQueueItem
from templates.models import ServiceLocation

pytestmark = pytest.mark.django_db

# Every field a change may carry beside the status, with a value that differs from a new item's.
OTHER_FIELDS = ("priority", "service_location", "queue_position")
COMBINATIONS = [
    combination
    for size in range(len(OTHER_FIELDS) + 1)
    for combination in itertools.combinations(OTHER_FIELDS, size)
]


def status_events(emitted: list[dict]) -> list[dict]:
    return [e for e in emitted if e["messageType"].endswith(".workQueueItemStatusUpdated")]


def assert_event_matches(emitted: list[dict], item: WorkQueueItem) -> None:
    """The one status event describes `item` as it is now in the database."""
    item.refresh_from_db()
    [event] = status_events(emitted)
    info = event["info"]
    location = item.service_location.name if item.service_location else None
    assert (info["status"], info["priority"], info["serviceLocation"]) == (
        item.status.status_id,
        item.priority,
        location,
    )


@pytest.fixture
def item(actor, work_queue, plan) -> WorkQueueItem:
    # A new item: waiting, priority 0, Window 1; its creation emits no status event
    item = services.create_work_queue_item(actor=actor, queue=work_queue, plan=plan, title="Labs")
    window_1 = ServiceLocation.objects.get(queue=work_queue, name="Window 1")
    services.update_work_queue_item(actor=actor, item=item, service_location=window_1)
    return item


@pytest.mark.parametrize("fields", COMBINATIONS, ids=lambda c: "+".join(c) or "status-only")
def test_the_services_event_shows_every_field_of_the_change(
    fields, item, actor, work_queue, emitted_events
):
    # Given a waiting item at Window 1 with priority 0
    values = {
        "priority": 4,
        "service_location": ServiceLocation.objects.get(queue=work_queue, name="Window 2"),
        "queue_position": 3,
    }
    emitted_events.clear()
    # When the status changes together with `fields`
    changes = {name: values[name] for name in fields}
    services.change_work_queue_item(actor=actor, item=item, status="done", **changes)
    # Then the one event carries the new status and every new value, and the item agrees
    assert_event_matches(emitted_events, item)
    item.refresh_from_db()
    for name in fields:
        assert getattr(item, name) == values[name]


def test_the_api_example_of_the_docs_emits_the_new_location(world, emitted_events):
    # Given the item of the world at its first service location
    url = f"/api/v1/work-queue-items/{world.item.pk}/"
    emitted_events.clear()
    # When the integrator sends the docs' example (docs/integrators.md)
    body = {"status": "done", "serviceLocation": "Window 2", "priority": 5}
    response = world.client.patch(url, json.dumps(body), content_type="application/json")
    # Then the answer and the event say the same: done, at Window 2, priority 5
    assert response.status_code == 200, response.content
    assert response.json()["serviceLocation"] == "Window 2"
    assert_event_matches(emitted_events, WorkQueueItem.objects.get(pk=world.item.pk))
    [event] = status_events(emitted_events)
    assert (event["info"]["serviceLocation"], event["info"]["priority"]) == ("Window 2", 5)


def test_the_admins_event_shows_the_new_location(
    client, hrh_administrator, item, work_queue, emitted_events
):
    # Given hrh's administrator on the item's page
    client.force_login(hrh_administrator)
    window_2 = ServiceLocation.objects.get(queue=work_queue, name="Window 2")
    done = work_queue.statuses.get(status_id="done")
    emitted_events.clear()
    # When they move it to done at Window 2 with priority 2 in one save
    response = client.post(
        reverse("admin:plans_workqueueitem_change", args=[item.pk]),
        {
            "status": done.pk,
            "priority": 2,
            "service_location": window_2.pk,
            "queue_position": "",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )
    # Then the event describes the item as saved
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert_event_matches(emitted_events, item)
    [event] = status_events(emitted_events)
    assert event["info"]["serviceLocation"] == "Window 2"
