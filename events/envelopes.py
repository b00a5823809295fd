"""Envelope builders: the seed's envelope, field for field, with camelCase keys.

Pure functions of what the services already hold, so emitting costs no extra queries beyond
the ones events/outbox.py makes for the plan's facts.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from events.types import EventType, subject_for

__all__ = [
    "PLAN_FIELD_NAMES",
    "PlanFacts",
    "changes_info",
    "envelope",
    "form_submitted_info",
    "plan_created_info",
    "rfc3339",
    "work_queue_item_status_updated_info",
]

# update_plan's change keys -> the names partners see. The title is staff-facing and not part
# of planUpdated (the issue lists status, riskStatus, endDate and custom fields).
PLAN_FIELD_NAMES = {"status": "status", "risk_status": "riskStatus", "end_date": "endDate"}
CUSTOM_FIELD_PREFIX = "custom_fields."


@dataclass(frozen=True)
class PlanFacts:
    """What every envelope says about the plan: its organization and whether it is a test."""

    plan_id: str
    org_id: str
    is_test: bool


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, e.g. 2026-11-23T19:31:07.123456Z."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def envelope(
    event_type: EventType,
    *,
    facts: PlanFacts,
    requested_by: str,
    trace_id: str,
    branch: str,
    event_id: str,
    occurred_at: datetime,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """The common envelope; `info` holds the type's own fields after planId and isTest."""
    return {
        "messageType": subject_for(facts.org_id, event_type),
        "orgId": facts.org_id,
        "requestedBy": requested_by,
        "traceId": trace_id,
        "branch": branch,
        "eventId": event_id,
        "occurredAt": rfc3339(occurred_at),
        "info": {"planId": facts.plan_id, "isTest": facts.is_test, **info},
    }


def plan_created_info(
    *, template_name: str, user_id: str, role_assignments: Mapping[str, str]
) -> dict[str, Any]:
    """`role_assignments` maps roleId to the holder's user id."""
    return {
        "templateName": template_name,
        "userId": user_id,
        "roleAssignments": [
            {"roleId": role_id, "userId": holder}
            for role_id, holder in sorted(role_assignments.items())
        ],
    }


def changes_info(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """update_plan's {field: (old, new)} as planUpdated's `changes`; fields partners do not
    see (the title) are left out, so the list may come back empty: then emit nothing."""
    listed = []
    for name, (old, new) in changes.items():
        if name.startswith(CUSTOM_FIELD_PREFIX):
            field = "customFields." + name.removeprefix(CUSTOM_FIELD_PREFIX)
        elif name in PLAN_FIELD_NAMES:
            field = PLAN_FIELD_NAMES[name]
        else:
            continue
        listed.append({"field": field, "old": _change_value(old), "new": _change_value(new)})
    return {"changes": listed}


def _change_value(value: Any) -> Any:
    # A blank attribute (riskStatus "", no endDate) is "no value": null, as the docs promise.
    return None if value == "" else _json_value(value)


def form_submitted_info(
    *, form_name: str, form_assignment_id: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "formName": form_name,
        "formAssignmentId": form_assignment_id,
        "data": {name: _json_value(value) for name, value in data.items()},
    }


def work_queue_item_status_updated_info(
    *,
    work_queue_name: str,
    work_queue_item_id: str,
    status: str,
    old_status: str,
    priority: int,
    service_location: str | None,
) -> dict[str, Any]:
    return {
        "workQueueName": work_queue_name,
        "workQueueItemId": work_queue_item_id,
        "status": status,
        "oldStatus": old_status,
        "priority": priority,
        "serviceLocation": service_location,
    }
