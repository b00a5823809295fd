"""The simulator: which rows would fire and what they would do, without changing anything.

With a plan, the evaluation runs for real (its data, its actions through plans.services, the
chain) inside a transaction that is rolled back, so what is shown is exactly what would happen,
and nothing stays: no record, no change, no event in the outbox. Without a plan, the rows are
evaluated against the values given per reference and the actions are only listed.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from plans.models import Plan
from rules.compiler import compile_table
from rules.data import coerce
from rules.engine import evaluate_rows, row_reason
from rules.languages.context import EvaluationContext, StaticDataSource
from rules.models import RuleEvaluation, Trigger
from rules.services import PlanTrigger, evaluate_plans
from templates.models import PlanTemplate

__all__ = ["SimulatedEvaluation", "simulate"]


@dataclass
class SimulatedEvaluation:
    chain_depth: int
    inputs: dict[str, Any]
    rows: list[dict[str, Any]]
    actions: list[dict[str, Any]] = field(default_factory=list)
    chain_stopped: bool = False

    def __post_init__(self) -> None:
        # Each row with its reason in words, for the page.
        self.rows = [{**row, "reason": row_reason(row, self.inputs)} for row in self.rows]

    @property
    def inputs_json(self) -> str:
        """The inputs as a person reads them: JSON, indented (not a Python dict)."""
        return json.dumps(self.inputs, indent=2, ensure_ascii=False, default=str)


def simulate(
    template: PlanTemplate,
    *,
    plan: Plan | None,
    trigger: str,
    subject: str = "",
    payload: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> list[SimulatedEvaluation]:
    """The evaluations a trigger would cause (the first, then the chain), changing nothing."""
    payload = payload or {}
    if plan is None:
        return [_simulate_values(template, trigger, subject, payload, values or {})]
    from integrations.models import InboundEvent, InboundStatus

    with transaction.atomic():
        if trigger == Trigger.INTEGRATION and subject and payload:
            # The payload as if it had just been accepted for the plan; rolled back below.
            InboundEvent.objects.create(
                organization_id=plan.organization_id,
                subject=subject,
                source="rest",
                status=InboundStatus.ACCEPTED,
                payload=payload,
                payload_hash=f"simulation-{uuid.uuid4().hex}",
                plan_ids=[plan.pk],
            )
        first = evaluate_plans(
            template, [plan], PlanTrigger(trigger, {"simulation": True}, subject=subject)
        )
        results = []
        if first:
            evaluations = RuleEvaluation.objects.filter(plan=plan, pk__gte=first[0].pk)
            for evaluation in evaluations.order_by("pk"):
                results.append(
                    SimulatedEvaluation(
                        evaluation.chain_depth,
                        evaluation.inputs,
                        evaluation.row_outcomes(),
                        evaluation.actions,
                        evaluation.chain_stopped,
                    )
                )
        transaction.set_rollback(True)
    return results


def _simulate_values(
    template: PlanTemplate,
    trigger: str,
    subject: str,
    payload: dict[str, Any],
    values: dict[str, Any],
) -> SimulatedEvaluation:
    table = compile_table(template)
    catalog = table.catalog
    last = {}
    for reference, value in values.items():
        info = catalog.get(reference)
        last[reference] = coerce(value, info.field_type) if info else value
    for name, value in payload.items():
        reference = f"integration.{subject}.{name}"
        info = catalog.get(reference)
        if info is not None:
            last[reference] = coerce(value, info.field_type)
    context = EvaluationContext(data=StaticDataSource(last_values=last, first_values=last))
    outcome = evaluate_rows(table, table.rules_for(trigger, subject), context)
    actions = [
        {"ruleName": rule.name, "action": action.label, "ok": None, "detail": "would run"}
        for rule in outcome.fired
        for action in rule.actions
    ]
    return SimulatedEvaluation(0, outcome.inputs, [row.as_json() for row in outcome.rows], actions)
