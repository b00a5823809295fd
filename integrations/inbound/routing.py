"""Whom an inbound payload is for: `planId` names one plan, `userId` every OPEN plan of that
person whose template listens to the subject. Both together: that plan, which must be theirs.

Ids of another organization and ids that do not exist get the same answer, so a partner of
one organization learns nothing about another's."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from healix.prepared import prepared_cursor
from integrations.inbound.schemas import UUID, Problem, pointer
from integrations.models import RESERVED_FIELD_NAMES, IntegrationDefinition
from integrations.sql import OPEN_PLANS_OF_USERS_SQL, PLAN_BY_ID_SQL, PLANS_BY_ID_SQL

__all__ = ["PlanIndex", "Route", "route", "routing_ids"]


@dataclass
class Route:
    plan_ids: list[uuid.UUID] = field(default_factory=list)
    template_ids: set[int] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class PlanRow:
    pk: uuid.UUID
    template_id: int
    user_id: uuid.UUID
    template_name: str = ""


class PlanIndex:
    """The plans messages name, loaded in one query per organization for a whole batch
    (`prefetch`), or one by one on first use. Raw SQL: this is the hot path of ingestion."""

    def __init__(self) -> None:
        self._by_id: dict[tuple[int, uuid.UUID], PlanRow | None] = {}
        self._open_by_user: dict[tuple[int, uuid.UUID], list[PlanRow]] = {}

    def prefetch(self, organization_id: int, plan_ids: set, user_ids: set) -> None:
        plan_ids = {p for p in plan_ids if (organization_id, p) not in self._by_id}
        user_ids = {u for u in user_ids if (organization_id, u) not in self._open_by_user}
        with prepared_cursor() as cursor:
            if plan_ids:
                for pid in plan_ids:
                    self._by_id[(organization_id, pid)] = None
                ids = list(plan_ids)
                sql, wanted = (PLAN_BY_ID_SQL, ids[0]) if len(ids) == 1 else (PLANS_BY_ID_SQL, ids)
                cursor.execute(sql, [organization_id, wanted], prepare=True)
                for pk, template_id, user_id, name in cursor.fetchall():
                    self._by_id[(organization_id, pk)] = PlanRow(pk, template_id, user_id, name)
            if user_ids:
                for uid in user_ids:
                    self._open_by_user[(organization_id, uid)] = []
                cursor.execute(
                    OPEN_PLANS_OF_USERS_SQL, [organization_id, list(user_ids)], prepare=True
                )
                for pk, template_id, user_id in cursor.fetchall():
                    row = PlanRow(pk, template_id, user_id)
                    self._open_by_user[(organization_id, user_id)].append(row)

    def plan(self, organization_id: int, plan_id: uuid.UUID) -> PlanRow | None:
        if (organization_id, plan_id) not in self._by_id:
            self.prefetch(organization_id, {plan_id}, set())
        return self._by_id[(organization_id, plan_id)]

    def open_plans(self, organization_id: int, user_id: uuid.UUID) -> list[PlanRow]:
        if (organization_id, user_id) not in self._open_by_user:
            self.prefetch(organization_id, set(), {user_id})
        return self._open_by_user[(organization_id, user_id)]


def routing_ids(payload: Any) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(planId, userId) of a payload when they are well-formed UUIDs, for prefetching."""
    if not isinstance(payload, dict):
        return None, None
    found = []
    for name in RESERVED_FIELD_NAMES:
        problems: list[Problem] = []
        found.append(_uuid(payload, name, problems))
    return found[0], found[1]


def _uuid(payload: dict[str, Any], name: str, problems: list[Problem]) -> uuid.UUID | None:
    value = payload.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, str) and UUID.match(value):
            return uuid.UUID(value)
    except ValueError:
        pass
    problems.append(Problem(pointer(name), f"Expected a UUID; got {value!r}."))
    return None


def route(
    organization_id: int,
    subject: str,
    payload: dict[str, Any],
    definitions: dict[int, IntegrationDefinition],
    plans: PlanIndex | None = None,
) -> Route:
    """The target plans of `payload`; `definitions` maps template id -> definition."""
    plans = plans or PlanIndex()
    result = Route()
    if "planId" not in payload and "userId" not in payload:
        result.problems.append(
            Problem("#", "Name whom the event is for: give planId and/or userId.")
        )
        return result
    plan_id = _uuid(payload, "planId", result.problems)
    user_id = _uuid(payload, "userId", result.problems)
    if result.problems:
        return result
    if plan_id is not None:
        plan = plans.plan(organization_id, plan_id)
        if plan is None:
            result.problems.append(Problem(pointer("planId"), f"No plan {plan_id} here."))
        elif plan.template_id not in definitions:
            result.problems.append(
                Problem(
                    pointer("planId"),
                    f"The plan's template {plan.template_name} does not listen to "
                    f"subject {subject}.",
                )
            )
        elif user_id is not None and plan.user_id != user_id:
            result.problems.append(
                Problem(pointer("userId"), f"Plan {plan_id} is not a plan of user {user_id}.")
            )
        else:
            result.plan_ids.append(plan.pk)
            result.template_ids.add(plan.template_id)
        return result
    listening = [
        p for p in plans.open_plans(organization_id, user_id) if p.template_id in definitions
    ]
    if not listening:
        result.problems.append(
            Problem(
                pointer("userId"),
                f"No open plan of user {user_id} here listens to subject {subject}.",
            )
        )
    for plan in listening:
        result.plan_ids.append(plan.pk)
        result.template_ids.add(plan.template_id)
    return result
