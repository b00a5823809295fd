"""The only functions that change run-time state.

The admin, the API, the rules and the tests all call these. Each runs in one transaction, takes
the acting user, and refuses with a django ValidationError whose message dict names the field at
fault. Rows are locked (SELECT ... FOR UPDATE) where two writers could race, so an old value read
here is the value that was really replaced.

A CLOSED plan takes nothing new (roles, forms, submissions, work queue items), but its own
attributes still change (so it can be reopened) and its existing work queue items can still be
worked to the end.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

import events
from events import EventType
from healix.celery import app
from healix.models import User, require_same_organization
from healix.observability.tracing import current_trace_id
from plans.models import (
    FormAssignment,
    FormAssignmentStatus,
    FormSubmission,
    Plan,
    PlanStatus,
    RoleAssignment,
    WorkQueueItem,
    WorkQueueItemStatusChange,
)
from templates.models import (
    AssignMode,
    FormAssignmentDefinition,
    PlanTemplate,
    Role,
    ServiceLocation,
    WorkQueue,
    WorkQueueStatus,
)
from templates.values import check_values

__all__ = [
    "UNSET",
    "assign_form",
    "assign_plan",
    "assign_role",
    "change_work_queue_item",
    "change_work_queue_item_status",
    "create_work_queue_item",
    "submit_form",
    "update_plan",
    "update_work_queue_item",
]


# Queued by name (rules/tasks.py runs it): the rules call these services, so importing the
# task here would make the two modules import each other.
SUBMISSION_RULES_TASK = "rules.evaluate_submission"

logger = logging.getLogger(__name__)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# Marks an argument the caller did not give, so that None can mean "clear this value".
UNSET: Any = _Unset()

Changes = dict[str, tuple[Any, Any]]


# --- checks shared by the services ---------------------------------------------------------


def _require_actor(actor: User, organization_id: int) -> None:
    if not actor.is_active:
        raise ValidationError("The acting user is inactive.")
    if actor.is_superuser:
        return
    if actor.organization_id != organization_id:
        raise ValidationError("The acting user does not belong to this organization.")


def _require_same_organization(organization_id: int, **objects: Any) -> None:
    require_same_organization(organization_id, objects)


def _require_open(plan: Plan) -> None:
    if plan.status != PlanStatus.OPEN:
        raise ValidationError({"plan": f"Plan {plan.pk} is {plan.status}; only open plans change."})


def _check_role_holder(role: Role, user: User) -> str | None:
    if user.organization_id != role.organization_id:
        return f"User {user.pk} belongs to another organization."
    if not role.allows(user.user_type):
        allowed = ", ".join(role.assignable_user_types)
        return f"Role {role.role_id} may be held by {allowed} users, not {user.user_type}."
    return None


def _check_custom_fields(template: PlanTemplate, values: Mapping[str, Any], *, partial: bool):
    if not isinstance(values, Mapping):
        raise ValidationError({"custom_fields": "Give an object of custom field values."})
    errors = check_values(
        template.custom_fields.all(), values, partial=partial, owner=f"template {template.name}"
    )
    if errors:
        raise ValidationError(
            {"custom_fields": [f"{name}: {message}" for name, message in errors.items()]}
        )


def _lock(instance):
    """Re-read a row in place under FOR UPDATE, so concurrent changes queue up behind this one
    and the caller's object shows the result."""
    instance.refresh_from_db(from_queryset=type(instance).objects.select_for_update())
    return instance


# --- plans ---------------------------------------------------------------------------------


@transaction.atomic
def assign_plan(
    *,
    actor: User,
    template: PlanTemplate,
    user: User,
    role_assignments: Mapping[str, User] | None = None,
    title: str = "",
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    custom_fields: Mapping[str, Any] | None = None,
) -> Plan:
    """Assign `template` to `user`: the plan, its role assignments and the at-once forms.

    `role_assignments` maps roleId to the user holding it; the primary role defaults to `user`.
    """
    organization_id = template.organization_id
    _require_actor(actor, organization_id)
    _require_same_organization(organization_id, user=user)
    roles = {role.role_id: role for role in template.roles.all()}
    holders = dict(role_assignments or {})
    primary = next((role for role in roles.values() if role.is_primary), None)
    if primary is not None:
        holders.setdefault(primary.role_id, user)

    errors = []
    for role_id, holder in holders.items():
        role = roles.get(role_id)
        if role is None:
            errors.append(f"{role_id}: not a role of template {template.name}.")
        elif message := _check_role_holder(role, holder):
            errors.append(f"{role_id}: {message}")
    if errors:
        raise ValidationError({"role_assignments": errors})
    _check_custom_fields(template, custom_fields or {}, partial=False)

    plan = Plan(
        organization_id=organization_id,
        template=template,
        user=user,
        title=title,
        start_date=start_date or timezone.now(),
        end_date=end_date,
        custom_fields=dict(custom_fields or {}),
        created_by=actor,
    )
    plan.full_clean()
    plan.save()
    RoleAssignment.objects.bulk_create(
        RoleAssignment(organization_id=organization_id, plan=plan, role=roles[role_id], user=holder)
        for role_id, holder in holders.items()
    )
    at_once = template.form_assignment_definitions.filter(
        assign_mode=AssignMode.AT_ONCE
    ).select_related("role", "form")
    for definition in at_once:
        holder = holders.get(definition.role.role_id)
        if holder is not None:
            _create_form_assignment(plan, definition, holder, actor, prefill={})
    events.emit(EventType.PLAN_CREATED, actor=actor, plan=plan, role_assignments=holders)
    return plan


@transaction.atomic
def update_plan(
    *,
    actor: User,
    plan: Plan,
    title: str = UNSET,
    status: str = UNSET,
    risk_status: str = UNSET,
    end_date: datetime | None = UNSET,
    custom_fields: Mapping[str, Any] = UNSET,
) -> Changes:
    """Change a plan's attributes; returns {field: (old, new)} for what really changed.

    Custom fields merge key by key (None clears one) and appear as `custom_fields.<name>`.
    """
    _require_actor(actor, plan.organization_id)
    plan = _lock(plan)
    changes: Changes = {}
    given = {"title": title, "status": status, "risk_status": risk_status, "end_date": end_date}
    for name, value in given.items():
        if value is not UNSET and getattr(plan, name) != value:
            changes[name] = (getattr(plan, name), value)
            setattr(plan, name, value)
    if custom_fields is not UNSET:
        _check_custom_fields(plan.template, custom_fields, partial=True)
        merged = dict(plan.custom_fields)
        for name, value in custom_fields.items():
            if merged.get(name) != value:
                changes[f"custom_fields.{name}"] = (merged.get(name), value)
                merged[name] = value
        plan.custom_fields = {name: value for name, value in merged.items() if value is not None}
    if changes:
        changed = {name.split(".")[0] for name in changes}  # custom_fields.<name> -> custom_fields
        # Only what changed is validated (and its constraints: the end date's check reads the
        # start date too). References don't change here, so their checks, most of a full
        # clean's queries, are not repeated.
        checked = changed | ({"start_date"} if "end_date" in changed else set())
        unchanged = [field.name for field in Plan._meta.fields if field.name not in checked]
        plan.clean_fields(exclude=unchanged)
        plan.validate_constraints(exclude=unchanged)
        plan.save(update_fields=sorted(changed))
        events.emit(EventType.PLAN_UPDATED, actor=actor, plan=plan, changes=changes)
    return changes


@transaction.atomic
def assign_role(*, actor: User, plan: Plan, role: Role, user: User) -> RoleAssignment:
    """Give `role` in `plan` to `user`, replacing whoever held it."""
    _require_actor(actor, plan.organization_id)
    _require_same_organization(plan.organization_id, role=role, user=user)
    _require_open(_lock(plan))
    if role.template_id != plan.template_id:
        raise ValidationError({"role": f"{role} is not a role of template {plan.template}."})
    if message := _check_role_holder(role, user):
        raise ValidationError({"user": message})
    assignment, _created = RoleAssignment.objects.update_or_create(
        plan=plan,
        role=role,
        defaults={"user": user, "organization_id": plan.organization_id},
    )
    return assignment


# --- forms ---------------------------------------------------------------------------------


def _create_form_assignment(
    plan: Plan,
    definition: FormAssignmentDefinition,
    user: User,
    actor: User,
    prefill: Mapping[str, Any],
) -> FormAssignment:
    return FormAssignment.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        definition=definition,
        user=user,
        prefill=dict(prefill),
        assigned_by=actor,
    )


@transaction.atomic
def assign_form(
    *,
    actor: User,
    plan: Plan,
    definition: FormAssignmentDefinition,
    prefill: Mapping[str, Any] | None = None,
) -> FormAssignment:
    """Give the form of `definition` to the user holding its role in `plan`."""
    _require_actor(actor, plan.organization_id)
    _require_same_organization(plan.organization_id, definition=definition)
    _require_open(_lock(plan))
    if definition.template_id != plan.template_id:
        raise ValidationError(
            {"definition": f"{definition} is not a form assignment of template {plan.template}."}
        )
    holder = plan.role_assignments.filter(role_id=definition.role_id).select_related("user").first()
    if holder is None:
        raise ValidationError({"definition": f"Nobody holds role {definition.role} in this plan."})
    prefill = prefill or {}
    errors = check_values(
        definition.form.fields.all(), prefill, partial=True, owner=f"form {definition.form}"
    )
    if errors:
        raise ValidationError({"prefill": [f"{name}: {msg}" for name, msg in errors.items()]})
    return _create_form_assignment(plan, definition, holder.user, actor, prefill)


@transaction.atomic
def submit_form(
    *, actor: User, assignment: FormAssignment, data: Mapping[str, Any]
) -> FormSubmission:
    """Store the submission of a form assignment, its data checked field by field.

    Errors are keyed by form field name, so a caller can show each next to its field.
    """
    _require_actor(actor, assignment.organization_id)
    # Locks go plan first, then its rows, in every service: one order, no deadlocks.
    plan = _lock(assignment.plan)
    assignment = _lock(assignment)
    if assignment.status == FormAssignmentStatus.SUBMITTED:
        raise ValidationError(f"Form assignment {assignment.pk} was already submitted.")
    _require_open(plan)
    if not isinstance(data, Mapping):
        raise ValidationError("Form data must be an object of field values.")
    form = assignment.definition.form
    errors = check_values(form.fields.all(), data, owner=f"form {form.name}")
    if errors:
        raise ValidationError(errors)
    submission = FormSubmission.objects.create(
        organization_id=assignment.organization_id,
        assignment=assignment,
        data=dict(data),
        submitted_by=actor,
    )
    assignment.status = FormAssignmentStatus.SUBMITTED
    assignment.save(update_fields=["status"])
    events.emit(EventType.FORM_SUBMITTED, actor=actor, submission=submission)
    # The rules see the submission only once it is committed, under this trace id.
    transaction.on_commit(
        partial(_queue_rules_for_submission, submission.pk, current_trace_id()), robust=True
    )
    return submission


def _queue_rules_for_submission(submission_id: int, trace_id: str | None) -> None:
    """On commit: hand the submission to the rules' worker. Never raises into the caller,
    whose submission is committed either way."""
    try:
        app.send_task(SUBMISSION_RULES_TASK, args=(submission_id, trace_id))
    except Exception:
        logger.exception("Could not queue submission %s for the rules", submission_id)


# --- work queue items ----------------------------------------------------------------------


def _resolve_status(queue: WorkQueue, status: WorkQueueStatus | str) -> WorkQueueStatus:
    if isinstance(status, WorkQueueStatus):
        if status.queue_id != queue.pk:
            raise ValidationError(
                {"status": f"{status} is a status of another work queue, not of {queue}."}
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
    _require_actor(actor, plan.organization_id)
    _require_same_organization(plan.organization_id, queue=queue)
    _require_open(_lock(plan))
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
    _require_actor(actor, item.organization_id)
    _lock(item.plan)  # plan first, as everywhere: emit() locks it too
    item = _lock(item)
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
    events.emit(EventType.WORK_QUEUE_ITEM_STATUS_UPDATED, actor=actor, item=item, change=change)
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
    _require_actor(actor, item.organization_id)
    item = _lock(item)
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
    _require_actor(actor, item.organization_id)
    _lock(item.plan)  # plan before item, as everywhere, though the item is changed first
    if changes:
        update_work_queue_item(actor=actor, item=item, **changes)
    if status is not UNSET:
        change_work_queue_item_status(actor=actor, item=item, status=status)
    return item
