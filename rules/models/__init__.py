"""The rules app's models: decision tables and their actions, and the audit trail."""

from rules.models.evaluation import RowOutcomeRecord, RuleEvaluation
from rules.models.table import (
    ActionKind,
    ColumnType,
    DecisionTable,
    ElapsedUnit,
    Rule,
    RuleAction,
    RuleColumn,
    Trigger,
    drop_cells_of_deleted_column,
)

__all__ = [
    "ActionKind",
    "ColumnType",
    "DecisionTable",
    "ElapsedUnit",
    "RowOutcomeRecord",
    "Rule",
    "RuleAction",
    "RuleColumn",
    "RuleEvaluation",
    "Trigger",
    "drop_cells_of_deleted_column",
]
