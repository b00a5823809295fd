"""Evaluating decision tables for plans, running the actions, recording every evaluation.

Entry points, one per trigger: `evaluate_inbound_events` (the Celery hand-off of accepted
inbound events), `evaluate_submission` (after a form submission's commit), `evaluate_due_rules`
(Celery beat, time elapsed). All go through `evaluate_plans`, which compiles the table once,
loads the plans' data in bulk, evaluates, runs the fired rows' actions through plans.services
(under the triggering trace id, so their events carry it) and records the audit trail.

A change made by an action triggers the "on change" rows again, up to
HEALIX_RULES_CHAIN_LIMIT evaluations deep; the evaluation at the limit is marked
`chain_stopped`.
"""

import json
import logging
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events.tracing import current_trace_id, trace
from healix import metrics
from healix.logcontext import bind
from healix.models import Organization, User, UserType
from plans import services as plan_services
from plans.models import FormSubmission, Plan, PlanStatus, WorkQueueItem
from rules.compiler import CompiledAction, CompiledRule, CompiledTable
from rules.context import EvaluationContext
from rules.data import PlanData, load_plan_data
from rules.engine import TableOutcome, evaluate_rows, to_json
from rules.errors import ExpressionRuntimeError
from rules.evaluation_log import log_evaluations
from rules.models import ActionKind, Rule, RuleEvaluation, Trigger
from rules.references import PLAN_ATTRIBUTES
from rules.tables import compiled_table
from templates.models import (
    FieldType,
    FormAssignmentDefinition,
    PlanTemplate,
    ServiceLocation,
    WorkQueue,
)

__all__ = [
    "ActionResult",
    "PlanTrigger",
    "evaluate_due_rules",
    "evaluate_inbound_events",
    "evaluate_plans",
    "evaluate_submission",
    "rules_actor",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanTrigger:
    """What sets off an evaluation of one plan."""

    kind: str  # a Trigger value
    detail: dict[str, Any] = field(default_factory=dict)
    source_key: str = ""  # evaluated once per plan when given
    subject: str = ""  # integration: the inbound subject
    rule_id: int | None = None  # time elapsed: the one row that is due
    submission: FormSubmission | None = None


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


def rules_actor(organization_id: int) -> User:
    """The user rules act as in an organization (events' requestedBy): inactive logins are
    impossible (no password, not staff), but it is active so plans.services accept it."""
    organization = Organization.objects.get(pk=organization_id)
    username = f"healix-rules@{organization.slug}"
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    user = User(
        username=username,
        organization=organization,
        user_type=UserType.ADMIN,
        first_name="Rules",
        last_name="engine",
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # another worker made it first
        return User.objects.get(username=username)
    return user


def chain_limit() -> int:
    return settings.HEALIX_RULES_CHAIN_LIMIT


# --- evaluation -----------------------------------------------------------------------------


def evaluate_plans(
    template: PlanTemplate,
    plans: Iterable[Plan],
    trigger: PlanTrigger | dict[uuid.UUID, PlanTrigger],
    *,
    table: CompiledTable | None = None,
    depth: int = 0,
    actor: User | None = None,
) -> list[RuleEvaluation]:
    """Evaluate `template`'s rows for `trigger` on each plan (of that template), run the
    actions of the rows that fire and record each evaluation. One transaction; the plans are
    locked first, as plans.services does, so two triggers of one plan queue up.

    `trigger` may differ per plan (a dict by plan id). Plans whose trigger's source was
    already evaluated, and plans for which no row applies, are skipped (nothing recorded).
    """
    table = table or compiled_table(template)
    triggers = trigger if isinstance(trigger, dict) else None
    plan_ids = [plan.pk for plan in plans]
    if not plan_ids:
        return []
    with trace(current_trace_id()) as trace_id, transaction.atomic():
        locked = list(
            Plan.objects.select_for_update()
            .filter(pk__in=plan_ids, template_id=template.pk)
            .order_by("pk")
        )
        todo: list[tuple[Plan, PlanTrigger, list[CompiledRule]]] = []
        for plan in locked:
            plan_trigger = triggers[plan.pk] if triggers is not None else trigger
            rules = table.rules_for(plan_trigger.kind, plan_trigger.subject, plan_trigger.rule_id)
            if rules:
                todo.append((plan, plan_trigger, rules))
        keys = {t.source_key for _p, t, _r in todo if t.source_key and depth == 0}
        if keys:
            seen = set(
                RuleEvaluation.objects.filter(
                    plan_id__in=[p.pk for p, _t, _r in todo], source_key__in=keys, chain_depth=0
                ).values_list("plan_id", "source_key")
            )
            todo = [(p, t, r) for p, t, r in todo if (p.pk, t.source_key) not in seen]
        if not todo:
            return []
        submission = next((t.submission for _p, t, _r in todo if t.submission), None)
        data = load_plan_data(
            [p for p, _t, _r in todo], table.references(), table.catalog, submission=submission
        )
        actor = actor or rules_actor(template.organization_id)
        evaluations = []
        chained: list[tuple[Plan, RuleEvaluation]] = []
        for plan, plan_trigger, rules in todo:
            started = metrics.now()
            context = EvaluationContext(data=data[plan.pk])
            outcome = evaluate_rows(table, rules, context)
            results = run_actions(plan, outcome, context, actor) if outcome.fired else []
            evaluation = _record(template, plan, plan_trigger, trace_id, depth, outcome, results)
            metrics.count_evaluation(evaluation, started)
            evaluation._rows_text = outcome.rows_text()  # what COPY writes
            evaluations.append(evaluation)
            if any(result.changed for result in results):
                chained.append((plan, evaluation))
        _insert_evaluations(evaluations)
        transaction.on_commit(partial(log_evaluations, evaluations), robust=True)
        if chained:
            _chain(template, table, chained, depth, actor)
    return evaluations


# The audit record's columns as COPY writes them; JSON columns as JSON text.
_JSON_FIELDS = {"trigger_detail", "inputs", "actions"}


def _insert_evaluations(evaluations: list[RuleEvaluation]) -> None:
    """Write the audit records with COPY: at hundreds per batch, each with a row outcome per
    rule, an INSERT's statement building costs more than the evaluations themselves. Ids come
    from the table's sequence first, so chained evaluations can name their origin."""
    if not evaluations:
        return
    table = RuleEvaluation._meta.db_table
    fields = [field.attname for field in RuleEvaluation._meta.concrete_fields]
    rows_at = fields.index("rows")
    columns = ", ".join(
        connection.ops.quote_name(field.column) for field in RuleEvaluation._meta.concrete_fields
    )
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(evaluations)],
        )
        for evaluation, (pk,) in zip(evaluations, cursor.fetchall(), strict=True):
            evaluation.pk = pk
            evaluation._state.adding = False
            evaluation._state.db = connection.alias
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for evaluation in evaluations:
                values = evaluation.__dict__
                row = [
                    dumps(values[name]) if name in _JSON_FIELDS else values[name] for name in fields
                ]
                # The rows' JSON made from their cached texts (rules/engine.py) when there.
                row[rows_at] = values.get("_rows_text") or dumps(values["rows"])
                copy.write_row(row)


def _record(
    template: PlanTemplate,
    plan: Plan,
    trigger: PlanTrigger,
    trace_id: str,
    depth: int,
    outcome: TableOutcome,
    results: list[ActionResult],
) -> RuleEvaluation:
    return RuleEvaluation(
        organization_id=template.organization_id,
        template=template,
        plan=plan,
        trigger=trigger.kind,
        trigger_detail=trigger.detail,
        source_key=trigger.source_key if depth == 0 else "",
        trace_id=trace_id,
        chain_depth=depth,
        inputs=outcome.inputs,
        rows=[row.as_json() for row in outcome.rows],
        actions=[result.as_json() for result in results],
        fired_rules=[rule.pk for rule in outcome.fired if rule.pk is not None],
        evaluated_at=timezone.now(),
    )


def _chain(
    template: PlanTemplate,
    table: CompiledTable,
    chained: list[tuple[Plan, RuleEvaluation]],
    depth: int,
    actor: User,
) -> None:
    """Actions changed these plans' data: evaluate their "on change" rows again (all of them
    at once), unless the chain has reached its limit, which is then recorded on each
    evaluation that would have continued it."""
    if not table.rules_for(Trigger.ON_CHANGE):
        return
    if depth + 1 >= chain_limit():
        stopped = [evaluation.pk for _plan, evaluation in chained]
        RuleEvaluation.objects.filter(pk__in=stopped).update(chain_stopped=True)
        for _plan, evaluation in chained:
            evaluation.chain_stopped = True
        logger.warning(
            "Rules chain stopped at %d evaluations for %d plan(s)", depth + 1, len(stopped)
        )
        return
    follow = {
        plan.pk: PlanTrigger(Trigger.ON_CHANGE, {"chainedFrom": evaluation.pk})
        for plan, evaluation in chained
    }
    plans = [plan for plan, _evaluation in chained]
    evaluate_plans(template, plans, follow, table=table, depth=depth + 1, actor=actor)


# --- actions --------------------------------------------------------------------------------


class ActionFailed(Exception):
    pass


def run_actions(
    plan: Plan, outcome: TableOutcome, context: EvaluationContext, actor: User
) -> list[ActionResult]:
    """Run the fired rows' actions in row order, each in its own savepoint: a failing action
    is recorded with its reason and the next one still runs."""
    results = []
    for rule in outcome.fired:
        for action in rule.actions:
            try:
                with transaction.atomic():
                    detail, changed = _run(plan, action, context, actor)
                results.append(ActionResult(rule, action, True, detail, changed))
            except (
                ValidationError,
                ExpressionRuntimeError,
                ActionFailed,
                ObjectDoesNotExist,
            ) as error:
                results.append(ActionResult(rule, action, False, _message(error)))
    return results


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "message_dict"):
            return "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        return " ".join(error.messages)
    return str(error)


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


def _run(plan: Plan, action: CompiledAction, context: EvaluationContext, actor: User):
    """Run one action; returns (what happened, whether data changed)."""
    if action.kind == ActionKind.ASSIGN_FORM:
        definition = FormAssignmentDefinition.objects.select_related("form").get(
            pk=action.definition_id
        )
        types = {f.name: f.field_type for f in definition.form.fields.all()}
        prefill = {}
        for name, expression in action.prefill:
            value = _form_value(expression.evaluate(context), types.get(name, FieldType.TEXT))
            if value is not None and value != "":
                prefill[name] = value
        assignment = plan_services.assign_form(
            actor=actor, plan=plan, definition=definition, prefill=prefill
        )
        return f"form assignment {assignment.pk} prefilled with {prefill}", True
    if action.kind == ActionKind.SET_DATA_POINT:
        target = action.target
        value = _form_value(action.value.evaluate(context), target.field_type)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts = target.reference.split(".")
        if parts[0] == "plan":
            attribute = PLAN_ATTRIBUTES.get(parts[1])
            if attribute:
                if attribute[1] == FieldType.DATETIME and isinstance(value, str):
                    value = datetime.fromisoformat(value)
                if attribute[0] in ("title", "risk_status") and value is None:
                    value = ""
                changes = plan_services.update_plan(actor=actor, plan=plan, **{attribute[0]: value})
            else:
                changes = plan_services.update_plan(
                    actor=actor, plan=plan, custom_fields={parts[1]: value}
                )
            return f"{target.reference} = {to_json(value)!r}", bool(changes)
        item = _latest_item(plan, _queue_id(plan, parts[1]))
        if parts[2] == "status":
            change = plan_services.change_work_queue_item_status(
                actor=actor, item=item, status=value
            )
            return f"{target.reference} = {value!r}", change is not None
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
        return f"{target.reference} = {to_json(value)!r}", bool(changes)
    if action.kind == ActionKind.CREATE_WORK_QUEUE_ITEM:
        title = _form_value(action.value.evaluate(context), FieldType.TEXT) or ""
        queue = WorkQueue.objects.get(pk=action.queue_id)
        item = plan_services.create_work_queue_item(
            actor=actor, queue=queue, plan=plan, title=title, status=action.status or None
        )
        return f"work queue item {item.pk} (ticket {item.ticket_number}) in {queue}", True
    if action.kind == ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS:
        item = _latest_item(plan, action.queue_id)
        change = plan_services.change_work_queue_item_status(
            actor=actor, item=item, status=action.status
        )
        return f"item {item.pk} to {action.status}", change is not None
    raise ActionFailed(f"unknown action {action.kind}")


def _queue_id(plan: Plan, queue_name: str) -> int:
    return WorkQueue.objects.get(organization_id=plan.organization_id, name=queue_name).pk


# --- triggers -------------------------------------------------------------------------------


def evaluate_inbound_events(event_ids: Iterable[uuid.UUID]) -> int:
    """Evaluate the rules for every plan each accepted inbound event targets, under the
    event's trace id; returns how many evaluations were recorded."""
    from integrations.models import InboundEvent, InboundStatus

    recorded = 0
    events = InboundEvent.objects.filter(pk__in=list(event_ids), status=InboundStatus.ACCEPTED)
    events = events.select_related("organization")  # its slug goes on the log lines
    for event in events.order_by("received_at"):
        plans = Plan.objects.filter(
            organization_id=event.organization_id, pk__in=event.plan_ids
        ).select_related("template")
        by_template: dict[int, list[Plan]] = {}
        for plan in plans:
            by_template.setdefault(plan.template_id, []).append(plan)
        trigger = PlanTrigger(
            Trigger.INTEGRATION,
            {"inboundEventId": str(event.pk), "subject": event.subject},
            source_key=f"inbound:{event.pk}",
            subject=event.subject,
        )
        with (
            trace(event.trace_id or None),
            bind(org_id=event.organization.slug, inbound_event_id=event.pk),
        ):
            logger.info("Inbound event handed to the rules: %d plan(s)", len(plans))
            for template_plans in by_template.values():
                template = template_plans[0].template
                recorded += len(evaluate_plans(template, template_plans, trigger))
    return recorded


def evaluate_submission(submission_id: int, trace_id: str | None = None) -> int:
    """Evaluate the "on change" rows of the submission's plan, once per submission."""
    submission = (
        FormSubmission.objects.select_related(
            "assignment__plan__template",
            "assignment__plan__organization",
            "assignment__definition__form",
        )
        .filter(pk=submission_id)
        .first()
    )
    if submission is None:
        return 0
    plan = submission.assignment.plan
    trigger = PlanTrigger(
        Trigger.ON_CHANGE,
        {"submissionId": submission.pk, "form": submission.assignment.definition.form.name},
        source_key=f"submission:{submission.pk}",
        submission=submission,
    )
    with trace(trace_id), bind(org_id=plan.organization.slug):
        return len(evaluate_plans(plan.template, [plan], trigger))


def _due_at(value: Any, amount: int, unit: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time(), UTC)
    if unit == "months":
        return value + relativedelta(months=amount)
    return value + timedelta(**{unit: amount})


def evaluate_due_rules(now: datetime | None = None) -> int:
    """Celery beat: evaluate each time-elapsed row for every open plan whose due date has
    passed, once per plan and due date (ticks after the first find it recorded)."""
    now = now or timezone.now()
    recorded = 0
    template_ids = (
        Rule.objects.filter(enabled=True, trigger=Trigger.TIME_ELAPSED)
        .values_list("template_id", flat=True)
        .distinct()
    )
    templates = PlanTemplate.objects.filter(pk__in=list(template_ids))
    for template in templates.select_related("organization"):
        table = compiled_table(template)
        rules = [r for r in table.rules_for(Trigger.TIME_ELAPSED) if not r.problem]
        plans = list(Plan.objects.filter(template=template, status=PlanStatus.OPEN))
        if not rules or not plans:
            continue
        references = {rule.elapsed_reference for rule in rules}
        data: dict[uuid.UUID, PlanData] = load_plan_data(plans, references, table.catalog)
        with trace(None), bind(org_id=template.organization.slug):
            for rule in rules:
                triggers = {}
                for plan in plans:
                    due = _due_at(
                        data[plan.pk].last(rule.elapsed_reference),
                        rule.elapsed_amount,
                        rule.elapsed_unit,
                    )
                    if due is not None and due <= now:
                        triggers[plan.pk] = PlanTrigger(
                            Trigger.TIME_ELAPSED,
                            {"ruleId": rule.pk, "dueAt": due.isoformat()},
                            source_key=f"time:{rule.pk}:{due.isoformat()}",
                            rule_id=rule.pk,
                        )
                if triggers:
                    due_plans = [plan for plan in plans if plan.pk in triggers]
                    recorded += len(evaluate_plans(template, due_plans, triggers, table=table))
    return recorded
