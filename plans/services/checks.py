"""What every service checks and shares: the acting user, one organization, an open plan, locked
rows, and UNSET."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from events.outbox import LockedPlan, lock_plan_row
from healix.models import User, require_same_organization
from plans.models import (
    Plan,
    PlanStatus,
)
from templates.models import (
    PlanTemplate,
    Role,
)
from templates.values import check_values


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# Marks an argument the caller did not give, so that None can mean "clear this value".
UNSET: Any = _Unset()

Changes = dict[str, tuple[Any, Any]]


def require_actor(actor: User, organization_id: int) -> None:
    if not actor.is_active:
        raise ValidationError("The acting user is inactive.")
    if actor.is_superuser:
        return
    if actor.organization_id != organization_id:
        raise ValidationError("The acting user does not belong to this organization.")


def require_same_organization_of(organization_id: int, **objects: Any) -> None:
    require_same_organization(organization_id, objects)


def require_open(plan: Plan) -> None:
    if plan.status != PlanStatus.OPEN:
        raise ValidationError({"plan": f"Plan {plan.pk} is {plan.status}; only open plans change."})


def check_role_holder(role: Role, user: User) -> str | None:
    if user.organization_id != role.organization_id:
        return f"User {user.pk} belongs to another organization."
    if not role.allows(user.user_type):
        allowed = ", ".join(role.assignable_user_types)
        return f"Role {role.role_id} may be held by {allowed} users, not {user.user_type}."
    return None


def check_custom_fields(template: PlanTemplate, values: Mapping[str, Any], *, partial: bool):
    if not isinstance(values, Mapping):
        raise ValidationError({"custom_fields": "Give an object of custom field values."})
    errors = check_values(
        template.custom_fields.all(), values, partial=partial, owner=f"template {template.name}"
    )
    if errors:
        raise ValidationError(
            {"custom_fields": [f"{name}: {message}" for name, message in errors.items()]}
        )


def lock(instance):
    """Re-read a row in place under FOR UPDATE, so concurrent changes queue up behind this one
    and the caller's object shows the result."""
    instance.refresh_from_db(from_queryset=type(instance).objects.select_for_update())
    return instance


def lock_plan(plan: Plan) -> LockedPlan:
    """lock() for a plan whose event the caller then emits: the same query reads what the
    event's envelope says about the plan, and emit(..., locked=<this>) takes it from here
    instead of locking and reading the row a second time."""
    row, locked = lock_plan_row(plan.pk)
    # In place, as lock()'s refresh_from_db: the fields as read, nothing cached from before.
    for field in Plan._meta.concrete_fields:
        setattr(plan, field.attname, getattr(row, field.attname))
    plan._state = row._state
    plan._prefetched_objects_cache = {}
    return locked
