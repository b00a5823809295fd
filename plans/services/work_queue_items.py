"""Work queue items: created, moved through their statuses, and changed."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

import events
from events import EventType
from healix.models import User
from plans.models import (
    Plan,
    WorkQueueItem,
    WorkQueueItemStatusChange,
)
from plans.services.checks import (
    UNSET,
    Changes,
    lock,
    lock_plan_row,
    require_actor,
    require_open,
    require_same_organization_of,
)
from templates.models import (
    ServiceLocation,
    WorkQueue,
    WorkQueueStatus,
)

# --- work queue items ----------------------------------------------------------------------


def _resolve_status(queue: WorkQueue, status: WorkQueueStatus | str) -> WorkQueueStatus:
    if isinstance(status, WorkQueueStatus):
        if status.queue_id != queue.pk:
            raise ValidationError(
                # The id, as API callers name statuses (a status reads as its label elsewhere).
                {"status": f"{status.status_id} is a status of another work queue, not of {queue}."}
            )
        return status
    found = queue.statuses.filter(status_id=status).first()
    if found is None:
        allowed = ", ".join(queue.statuses.values_list("status_id", flat=True))
        raise ValidationError(
            {"status": f"{status} is not a status of work queue {queue}. Allowed: {allowed}."}
        )
    return found


def _check_service_location(queue: WorkQueue, location: ServiceLocation | None) -> None:
    if location is not None and location.queue_id != queue.pk:
        raise ValidationError(
            {"service_location": f"{location} is not a service location of work queue {queue}."}
        )


def _check_queue_position(position: int | None) -> None:
    if position is not None and (
        isinstance(position, bool) or not isinstance(position, int) or position < 0
    ):
        raise ValidationError({"queue_position": "Give a whole number from 0, or nothing."})


def _check_priority(priority: int) -> None:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValidationError({"priority": "Give a whole number."})


@transaction.atomic
def create_work_queue_item(
    *,
    actor: User,
    queue: WorkQueue,
    plan: Plan,
    title: str,
    priority: int = 0,
    service_location: ServiceLocation | None = None,
    queue_position: int | None = None,
    status: WorkQueueStatus | str | None = None,
) -> WorkQueueItem:
    """Put a plan's item in a queue, with the next ticket number of that queue.

    The status defaults to the queue's first step.
    """
    require_actor(actor, plan.organization_id)
    require_same_organization_of(plan.organization_id, queue=queue)
    require_open(lock(plan))
    if not title or not title.strip():
        raise ValidationError({"title": "An item needs a title."})
    _check_priority(priority)
    _check_service_location(queue, service_location)
    _check_queue_position(queue_position)
    if status is None:
        status = queue.first_status()
        if status is None:
            raise ValidationError({"queue": f"Work queue {queue} has no statuses yet."})
    status = _resolve_status(queue, status)
    # Locking the queue serialises ticket numbering per queue; the unique constraint backs it.
    WorkQueue.objects.select_for_update().filter(pk=queue.pk).get()
    last = queue.items.aggregate(last=Max("ticket_number"))["last"] or 0
    item = WorkQueueItem(
        organization_id=plan.organization_id,
        queue=queue,
        plan=plan,
        title=title.strip(),
        ticket_number=last + 1,
        priority=priority,
        service_location=service_location,
        queue_position=queue_position,
        status=status,
    )
    item.full_clean()  # lengths and integer ranges, so out-of-range input is no server error
    item.save()
    WorkQueueItemStatusChange.objects.create(
        organization_id=item.organization_id,
        queue=queue,
        item=item,
        old_status=None,
        new_status=status,
        changed_by=actor,
    )
    return item


@transaction.atomic
def change_work_queue_item_status(
    *, actor: User, item: WorkQueueItem, status: WorkQueueStatus | str
) -> WorkQueueItemStatusChange | None:
    """Move an item to another status of its queue, keeping the old one in its history.

    Returns None when the item is already in that status: nothing changes.
    """
    require_actor(actor, item.organization_id)
    # Plan first, as everywhere; by id, read once with what the event says about it.
    _plan, locked = lock_plan_row(item.plan_id)
    item = lock(item)
    new_status = _resolve_status(item.queue, status)
    if new_status.pk == item.status_id:
        return None
    change = WorkQueueItemStatusChange.objects.create(
        organization_id=item.organization_id,
        queue_id=item.queue_id,
        item=item,
        old_status_id=item.status_id,
        new_status=new_status,
        changed_by=actor,
    )
    item.status = new_status
    item.save(update_fields=["status", "updated_at"])
    events.emit(
        EventType.WORK_QUEUE_ITEM_STATUS_UPDATED,
        actor=actor,
        item=item,
        change=change,
        locked=locked,
    )
    return change


@transaction.atomic
def update_work_queue_item(
    *,
    actor: User,
    item: WorkQueueItem,
    priority: int = UNSET,
    service_location: ServiceLocation | None = UNSET,
    queue_position: int | None = UNSET,
) -> Changes:
    """Change an item's priority, service location or queue position; returns what changed."""
    require_actor(actor, item.organization_id)
    item = lock(item)
    changes: Changes = {}
    if priority is not UNSET:
        _check_priority(priority)
    if service_location is not UNSET:
        _check_service_location(item.queue, service_location)
    if queue_position is not UNSET:
        _check_queue_position(queue_position)
    given = {
        "priority": priority,
        "service_location": service_location,
        "queue_position": queue_position,
    }
    for name, value in given.items():
        if value is not UNSET and getattr(item, name) != value:
            changes[name] = (getattr(item, name), value)
            setattr(item, name, value)
    if changes:
        item.full_clean()
        item.save(update_fields=[*changes, "updated_at"])
    return changes


@transaction.atomic
def change_work_queue_item(
    *, actor: User, item: WorkQueueItem, status: WorkQueueStatus | str = UNSET, **changes: Any
) -> WorkQueueItem:
    """A status change (with its event) and other changes (update_work_queue_item's) made
    together or not at all, as the admin and the API offer them; the item as it now is.

    The other changes are made first: the status change's event then describes the item as
    the whole change left it (its priority and service location), not as it was before."""
    require_actor(actor, item.organization_id)
    lock_plan_row(item.plan_id)  # plan before item, as everywhere, though the item changes first
    if changes:
        update_work_queue_item(actor=actor, item=item, **changes)
    if status is not UNSET:
        change_work_queue_item_status(actor=actor, item=item, status=status)
    return item
