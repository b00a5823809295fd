"""Evaluating decision tables for plans, running the actions, recording every evaluation.

Entry points, one per trigger: `evaluate_inbound_events` (the Celery hand-off of accepted
inbound events), `evaluate_submission` (after a form submission's commit), `evaluate_due_rules`
(Celery beat, time elapsed). All go through `evaluate_plans`, which compiles the table once,
loads the plans' data in bulk, evaluates, runs the fired rows' actions through plans.services
(rules/actions.py, under the triggering trace id, so their events carry it) and records the
audit trail (rules/audit.py). A failing action is that action's failure; a failing inbound
event or template is reported alone, the others go on (docs/rules.md).

A change made by an action triggers the "on change" rows again, up to
HEALIX_RULES_CHAIN_LIMIT evaluations deep; the evaluation at the limit is marked
`chain_stopped`.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from healix.models import Organization, User, UserType
from healix.observability import metrics
from healix.observability.logcontext import bind
from healix.observability.tracing import current_trace_id, trace
from plans.models import FormSubmission, Plan, PlanStatus
from rules.actions import ActionResult, run_actions
from rules.audit import insert_evaluations
from rules.compiler import CompiledRule, CompiledTable
from rules.data import PlanData, PlanRow, load_plan_data, lock_plans
from rules.engine import TableOutcome, evaluate_rows
from rules.evaluation_log import log_evaluations
from rules.languages.context import EvaluationContext
from rules.models import Rule, RuleEvaluation, Trigger
from rules.tables import compiled_table
from templates.models import PlanTemplate

__all__ = [
    "ActionResult",
    "InboundOutcome",
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
    plans: Iterable[Plan | PlanRow],
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
        locked = lock_plans(plan_ids, template.pk)
        todo: list[tuple[PlanRow, PlanTrigger, list[CompiledRule]]] = []
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
        evaluations: list[RuleEvaluation] = []
        seconds: list[float] = []  # each evaluation's, with its actions (metrics)
        chained: list[tuple[PlanRow, RuleEvaluation]] = []
        for plan, plan_trigger, rules in todo:
            started = metrics.now()
            context = EvaluationContext(data=data[plan.pk])
            outcome = evaluate_rows(table, rules, context)
            # The plan's model instance only where a fired row has actions to run on it.
            acts = any(rule.actions for rule in outcome.fired)
            results = (
                run_actions(Plan.objects.get(pk=plan.pk), outcome, context, actor) if acts else []
            )
            evaluation = _record(template, plan, plan_trigger, trace_id, depth, outcome, results)
            evaluations.append(evaluation)
            seconds.append(metrics.now() - started)
            if any(result.changed for result in results):
                chained.append((plan, evaluation))
        metrics.count_evaluations(evaluations, seconds)
        insert_evaluations(evaluations)
        transaction.on_commit(partial(log_evaluations, evaluations), robust=True)
        if chained:
            _chain(template, table, chained, depth, actor)
    return evaluations


def _record(
    template: PlanTemplate,
    plan: PlanRow,
    trigger: PlanTrigger,
    trace_id: str,
    depth: int,
    outcome: TableOutcome,
    results: list[ActionResult],
) -> RuleEvaluation:
    # Ids rather than objects: the relations' setters cost more than all the other fields.
    evaluation = RuleEvaluation(
        organization_id=template.organization_id,
        template_id=template.pk,
        plan_id=plan.pk,
        trigger=trigger.kind,
        trigger_detail=trigger.detail,
        source_key=trigger.source_key if depth == 0 else "",
        trace_id=trace_id,
        chain_depth=depth,
        inputs=outcome.inputs,
        actions=[result.as_json() for result in results],
        fired_rules=[rule.pk for rule in outcome.fired if rule.pk is not None],
        evaluated_at=timezone.now(),
    )
    # Named by their RowOutcomeRecord's ids when written (rules/audit.py).
    evaluation._stored_rows = outcome.stored_rows()
    return evaluation


def _chain(
    template: PlanTemplate,
    table: CompiledTable,
    chained: list[tuple[PlanRow, RuleEvaluation]],
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


# --- triggers -------------------------------------------------------------------------------


@dataclass
class InboundOutcome:
    """What a hand-off task did: evaluations recorded, and the events that could not be
    evaluated, each with its reason (their evaluations were rolled back; retried later)."""

    recorded: int = 0
    failed: dict[uuid.UUID, str] = field(default_factory=dict)


def evaluate_inbound_events(event_ids: Iterable[uuid.UUID]) -> InboundOutcome:
    """Evaluate the rules for every plan each accepted inbound event targets, under the
    event's trace id. An event that fails (outside any action: actions fail alone) is
    reported and the next one goes on: one event never holds up the others."""
    from integrations.models import InboundEvent, InboundStatus

    outcome = InboundOutcome()
    events = InboundEvent.objects.filter(pk__in=list(event_ids), status=InboundStatus.ACCEPTED)
    events = events.select_related("organization")  # its slug goes on the log lines
    for event in events.order_by("received_at"):
        with (
            trace(event.trace_id or None),
            bind(org_id=event.organization.slug, inbound_event_id=event.pk),
        ):
            try:
                outcome.recorded += _evaluate_inbound_event(event)
            except Exception as error:
                logger.exception("The rules could not evaluate the inbound event")
                outcome.failed[event.pk] = f"{type(error).__name__}: {error}"
    return outcome


def _evaluate_inbound_event(event) -> int:
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
    logger.info("Inbound event handed to the rules: %d plan(s)", len(plans))
    recorded = 0
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
        with trace(None), bind(org_id=template.organization.slug):
            try:
                recorded += _evaluate_due(template, now)
            except Exception:
                # One template's failure must not stop the other templates' (organizations')
                # due rules; the next tick tries again whatever was not recorded.
                logger.exception("The time-elapsed rules of template %s failed", template.pk)
    return recorded


def _evaluate_due(template: PlanTemplate, now: datetime) -> int:
    table = compiled_table(template)
    rules = [r for r in table.rules_for(Trigger.TIME_ELAPSED) if not r.problem]
    plans = list(Plan.objects.filter(template=template, status=PlanStatus.OPEN))
    if not rules or not plans:
        return 0
    references = {rule.elapsed_reference for rule in rules}
    data: dict[uuid.UUID, PlanData] = load_plan_data(plans, references, table.catalog)
    recorded = 0
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
