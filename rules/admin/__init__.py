"""The rules' admin, one module per page: the decision-table editor and its simulator
(decision_table.py), a row's page with its actions (rule.py), the audit trail
(evaluations.py); the forms they share (forms.py)."""

from rules.admin.decision_table import DecisionTableAdmin
from rules.admin.evaluations import RuleEvaluationAdmin
from rules.admin.rule import RuleAdmin

__all__ = ["DecisionTableAdmin", "RuleAdmin", "RuleEvaluationAdmin"]
