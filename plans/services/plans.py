"""Plans: assigned to a person, updated, and their roles."""

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CheckConstraint, Q, UniqueConstraint
from django.utils import timezone

import events
from events import EventType
from healix.models import User
from plans.models import (
    Plan,
    RoleAssignment,
)
from plans.services.checks import (
    UNSET,
    Changes,
    check_custom_fields,
    check_role_holder,
    lock,
    lock_plan,
    require_actor,
    require_open,
    require_same_organization_of,
)
from plans.services.forms import create_form_assignment
from templates.models import (
    AssignMode,
    PlanTemplate,
    Role,
)

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
    require_actor(actor, organization_id)
    require_same_organization_of(organization_id, user=user)
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
        elif message := check_role_holder(role, holder):
            errors.append(f"{role_id}: {message}")
    if errors:
        raise ValidationError({"role_assignments": errors})
    check_custom_fields(template, custom_fields or {}, partial=False)

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
            create_form_assignment(plan, definition, holder, actor, prefill={})
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
    require_actor(actor, plan.organization_id)
    locked = lock_plan(plan)
    changes: Changes = {}
    given = {"title": title, "status": status, "risk_status": risk_status, "end_date": end_date}
    for name, value in given.items():
        if value is not UNSET and getattr(plan, name) != value:
            changes[name] = (getattr(plan, name), value)
            setattr(plan, name, value)
    if custom_fields is not UNSET:
        check_custom_fields(plan.template, custom_fields, partial=True)
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
        # A constraint that reads none of them cannot fail, but Django builds its query to
        # find that out (a fifth of a millisecond of CPU each): skipped when none reads them.
        if checked & _constrained_fields():
            plan.validate_constraints(exclude=unchanged)
        plan.save(update_fields=sorted(changed))
        events.emit(EventType.PLAN_UPDATED, actor=actor, plan=plan, changes=changes, locked=locked)
    return changes


@cache
def _constrained_fields() -> frozenset[str]:
    """The plan fields its constraints read, but for those that only restate a field's
    choices, which clean_fields() has checked. A constraint of a kind not known here counts as
    reading them all, so that it is always checked."""
    every = frozenset(field.name for field in Plan._meta.fields)
    names: set[str] = set()
    for constraint in Plan._meta.constraints:
        if isinstance(constraint, CheckConstraint):
            if not _restates_choices(constraint.condition):
                names |= Q(constraint.condition).referenced_base_fields
        elif isinstance(constraint, UniqueConstraint) and constraint.fields:
            names |= set(constraint.fields)
            if constraint.condition is not None:
                names |= Q(constraint.condition).referenced_base_fields
        else:
            return every
    return frozenset(names)


def _restates_choices(condition: Any) -> bool:
    """Whether a check's condition is `<field>__in=<the field's choices>` on a field that
    takes neither blank nor null: clean_fields() then refuses whatever the check would."""
    if not isinstance(condition, Q) or condition.negated or len(condition.children) != 1:
        return False
    child = condition.children[0]
    if not isinstance(child, tuple):
        return False
    lookup, values = child
    name, _, operator = lookup.partition("__")
    if operator != "in":
        return False
    field = Plan._meta.get_field(name)
    return (
        bool(field.choices)
        and not field.blank
        and not field.null
        and set(values) == {value for value, _label in field.flatchoices}
    )


@transaction.atomic
def assign_role(*, actor: User, plan: Plan, role: Role, user: User) -> RoleAssignment:
    """Give `role` in `plan` to `user`, replacing whoever held it."""
    require_actor(actor, plan.organization_id)
    require_same_organization_of(plan.organization_id, role=role, user=user)
    require_open(lock(plan))
    if role.template_id != plan.template_id:
        raise ValidationError({"role": f"{role} is not a role of template {plan.template}."})
    if message := check_role_holder(role, user):
        raise ValidationError({"user": message})
    assignment, _created = RoleAssignment.objects.update_or_create(
        plan=plan,
        role=role,
        defaults={"user": user, "organization_id": plan.organization_id},
    )
    return assignment
