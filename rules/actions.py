"""Running the actions of the rows that fired, each in its own savepoint.

Whatever goes wrong inside one action (a value the database refuses, a constraint, a bug) is
that action's failure: the savepoint is rolled back, the failure is recorded with its reason
and the next action runs. Only failures that say nothing about the action (`is_transient`: a
lost connection, a deadlock, a lock or statement timeout) abort the evaluation, so that the
whole trigger is tried again later instead of recording a permanent failure for a blip.
"""

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, transaction

from healix.models import User
from plans import services as plan_services
from plans.models import Plan, WorkQueueItem
from rules.compiler import CompiledAction, CompiledRule
from rules.engine import TableOutcome, to_json
from rules.languages.context import EvaluationContext
from rules.languages.errors import ExpressionRuntimeError
from rules.models import ActionKind
from rules.references import PLAN_ATTRIBUTES
from templates.models import FieldType, FormAssignmentDefinition, ServiceLocation, WorkQueue

__all__ = [
    "ActionFailed",
    "ActionResult",
    "is_transient",
    "run_actions",
]

logger = logging.getLogger(__name__)

# SQLSTATE classes of database errors that say nothing about the action: connection (08),
# deadlock or serialization failure (40), insufficient resources (53), operator intervention
# such as a statement timeout or a shutdown (57); and a lock timeout (55P03).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
TRANSIENT_SQLSTATES = ("55P03",)
# A recorded reason is for a person to read; a database error can quote a long value.
MAX_DETAIL_CHARS = 500


class ActionFailed(Exception):
    pass


# The failures an action's code raises on purpose: their message is the reason as it stands.
EXPECTED_FAILURES = (ValidationError, ExpressionRuntimeError, ObjectDoesNotExist, ActionFailed)


@dataclass
class ActionResult:
    rule: CompiledRule
    action: CompiledAction
    ok: bool
    detail: str
    changed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.pk,
            "ruleName": self.rule.name,
            "action": self.action.label,
            "kind": self.action.kind,
            "ok": self.ok,
            "detail": self.detail,
        }


def is_transient(error: BaseException) -> bool:
    """Whether `error` may well not happen a moment later (retry the trigger) rather than
    being the action's own failure (record it). The one place that decides."""
    if isinstance(error, SoftTimeLimitExceeded | InterfaceError):
        return True
    if not isinstance(error, DatabaseError):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate is None:  # no answer from the server at all: the connection went
        return isinstance(error, OperationalError)
    return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES


def run_actions(
    plan: Plan, outcome: TableOutcome, context: EvaluationContext, actor: User
) -> list[ActionResult]:
    """Run the fired rows' actions in row order, each in its own savepoint: a failing action
    is recorded with its reason and the next one still runs. Raises only what `is_transient`
    calls transient."""
    results = []
    for rule in outcome.fired:
        for action in rule.actions:
            try:
                with transaction.atomic():
                    detail, changed = _run(plan, action, context, actor)
                results.append(ActionResult(rule, action, True, detail, changed))
            except Exception as error:
                if is_transient(error):
                    raise
                if not isinstance(error, EXPECTED_FAILURES):
                    # A database refusal or a bug: the action's failure, but worth a look.
                    logger.warning("Action %r failed", action.label, exc_info=True)
                results.append(ActionResult(rule, action, False, _message(error)))
    return results


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "message_dict"):
            text = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        else:
            text = " ".join(error.messages)
    elif isinstance(error, EXPECTED_FAILURES):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    text = text.replace("\x00", "\\0")  # the reason itself is stored
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _form_value(value: Any, field_type: str) -> Any:
    """An expression's value in the JSON shape of a form or custom field (templates/values.py)."""
    if value is None:
        return None
    if field_type in (FieldType.TEXT, FieldType.CHOICE):
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(str(to_json(item)) for item in value)
        return str(value) if not isinstance(value, float) or math.isfinite(value) else None
    if field_type == FieldType.DATE and isinstance(value, datetime):
        return value.date().isoformat()
    if field_type == FieldType.DATETIME and isinstance(value, datetime):
        return value.isoformat()
    return value


def _latest_item(plan: Plan, queue_id: int) -> WorkQueueItem:
    item = (
        WorkQueueItem.objects.filter(plan=plan, queue_id=queue_id)
        .order_by("-created_at", "-id")
        .first()
    )
    if item is None:
        raise ActionFailed("The plan has no item in this work queue.")
    return item


def _date_time(reference: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ActionFailed(f"{reference} takes a date and time; {value!r} is not one") from None


def _run(plan: Plan, action: CompiledAction, context: EvaluationContext, actor: User):
    """Run one action; returns (what happened, whether data changed)."""
    if action.kind == ActionKind.ASSIGN_FORM:
        definition = FormAssignmentDefinition.objects.select_related("form", "role").get(
            pk=action.definition_id
        )
        types = {f.name: f.field_type for f in definition.form.fields.all()}
        prefill = {}
        for name, expression in action.prefill:
            value = _form_value(expression.evaluate(context), types.get(name, FieldType.TEXT))
            if value is not None and value != "":
                prefill[name] = value
        plan_services.assign_form(actor=actor, plan=plan, definition=definition, prefill=prefill)
        # Said without ids: the simulator rolls the assignment back, so it never had one.
        said = f"assign form {definition.form} to {definition.role.name or definition.role}"
        return (f"{said}, prefilled with {_json(prefill)}" if prefill else said), True
    if action.kind == ActionKind.SET_DATA_POINT:
        target = action.target
        value = _form_value(action.value.evaluate(context), target.field_type)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts = target.reference.split(".")
        if parts[0] == "plan":
            attribute = PLAN_ATTRIBUTES.get(parts[1])
            if attribute:
                if attribute[1] == FieldType.DATETIME:
                    value = _date_time(target.reference, value)
                if attribute[0] in ("title", "risk_status") and value is None:
                    value = ""
                changes = plan_services.update_plan(actor=actor, plan=plan, **{attribute[0]: value})
            else:
                changes = plan_services.update_plan(
                    actor=actor, plan=plan, custom_fields={parts[1]: value}
                )
            return f"set {target.reference} to {_json(to_json(value))}", bool(changes)
        item = _latest_item(plan, _queue_id(plan, parts[1]))
        if parts[2] == "status":
            change = plan_services.change_work_queue_item_status(
                actor=actor, item=item, status=value
            )
            return f"set {target.reference} to {_json(value)}", change is not None
        if parts[2] == "serviceLocation":
            value = (
                ServiceLocation.objects.get(queue_id=item.queue_id, name=value) if value else None
            )
        field_name = {"priority": "priority", "serviceLocation": "service_location"}.get(
            parts[2], "queue_position"
        )
        changes = plan_services.update_work_queue_item(
            actor=actor, item=item, **{field_name: value}
        )
        return f"set {target.reference} to {_json(to_json(value))}", bool(changes)
    if action.kind == ActionKind.CREATE_WORK_QUEUE_ITEM:
        title = _form_value(action.value.evaluate(context), FieldType.TEXT) or ""
        queue = WorkQueue.objects.get(pk=action.queue_id)
        item = plan_services.create_work_queue_item(
            actor=actor, queue=queue, plan=plan, title=title, status=action.status or None
        )
        return f"create work queue item {_json(title)} in {queue} ({item.status})", True
    if action.kind == ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS:
        item = _latest_item(plan, action.queue_id)
        change = plan_services.change_work_queue_item_status(
            actor=actor, item=item, status=action.status
        )
        now = change.new_status if change is not None else item.status
        return f"change ticket {item.ticket_number} of {item.queue} to {now}", change is not None
    raise ActionFailed(f"unknown action {action.kind}")


def _json(value: Any) -> str:
    # A value as a person reads it in the audit trail and the simulator: JSON, not Python.
    return json.dumps(value, ensure_ascii=False, default=str)


def _queue_id(plan: Plan, queue_name: str) -> int:
    return WorkQueue.objects.get(organization_id=plan.organization_id, name=queue_name).pk
