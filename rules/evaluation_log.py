"""The log lines of rule evaluations: which rows fired and how each of their actions went.

Ids, names and outcomes only: an action's detail and the evaluation's inputs hold plan data
(patients' data), which stays in the audit trail (RuleEvaluation) and out of the logs.
"""

import logging
from collections.abc import Iterable

from healix.observability.logcontext import bind
from healix.observability.tracing import trace
from rules.models import RuleEvaluation

__all__ = ["log_evaluations"]

logger = logging.getLogger(__name__)


def log_evaluations(evaluations: Iterable[RuleEvaluation]) -> None:
    """One line per evaluation, per fired row and per action (after the commit)."""
    for evaluation in evaluations:
        with trace(evaluation.trace_id or None), bind(plan_id=evaluation.plan_id):
            fields = {"evaluationId": evaluation.pk, "trigger": evaluation.trigger}
            fired = evaluation.fired_rules
            extra = {**fields, "chainDepth": evaluation.chain_depth, "firedRules": fired}
            logger.info("Rules evaluated: %d row(s) fired", len(fired), extra=extra)
            actions = evaluation.actions
            names = {action["rule"]: action["ruleName"] for action in actions}
            for rule_id in fired:
                name = names.get(rule_id, "")
                logger.info("Rule fired: %s", name, extra={**fields, "ruleId": rule_id})
            for action in actions:
                extra = {**fields, "ruleId": action["rule"], "action": action["kind"]}
                if action["ok"]:
                    logger.info("Rule action done: %s", action["action"], extra=extra)
                else:
                    logger.warning("Rule action failed: %s", action["action"], extra=extra)
