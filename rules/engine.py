"""Evaluating compiled rows against one plan's data: pure, no database, never raises.

Hit policy: every row whose non-empty cells all hold fires, in row order; an empty cell is
"don't care". Column values are computed once per evaluation and shared by all rows.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rules.compiler import CompiledRule, CompiledTable
from rules.languages.conditions import coerce_value
from rules.languages.context import EvaluationContext
from rules.languages.errors import ExpressionRuntimeError

__all__ = ["RowOutcome", "TableOutcome", "evaluate_rows", "row_reason", "to_json"]


def to_json(value: Any) -> Any:
    """A value as the audit trail stores it (JSON): dates as ISO text, Decimal as a number."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class RowOutcome:
    """A row's outcome. For a row that did not fire: the first cell that did not hold (its
    column and text; the value is the column's input), or the problem that stopped it."""

    rule: CompiledRule
    fired: bool
    failed_column: str = ""
    cell: str = ""
    problem: str = ""

    def stored(self) -> tuple[dict[str, Any], str, str]:
        """The stored form, its JSON text and the text's digest (which names its
        RowOutcomeRecord), made once: the same outcome of the same row shares them (a table's
        few outcomes repeat across hundreds of evaluations)."""
        if self.problem:
            return _stored(self._build())
        # A row's cell in a column never changes: the column names the outcome ("" fired).
        key = self.failed_column
        cached = self.rule.json_cache.get(key)
        if cached is None:
            cached = self.rule.json_cache[key] = _stored(self._build())
        return cached

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return self.stored()[0]

    def _build(self) -> dict[str, Any]:
        # Compact: hundreds of evaluations a second each store one of these per row.
        row: dict[str, Any] = {"rule": self.rule.pk, "name": self.rule.name, "fired": self.fired}
        if self.failed_column:
            row["column"] = self.failed_column
            row["cell"] = self.cell
        if self.problem:
            row["problem"] = self.problem
        return row


def row_reason(row: dict[str, Any], inputs: dict[str, Any]) -> str:
    """Why a recorded row did not fire, in words (the admin and the simulator show it)."""
    if row.get("fired"):
        return ""
    if row.get("problem"):
        return row["problem"]
    column = row.get("column", "")
    return (
        f"{column} is {_show(inputs.get(column))}; the cell `{row.get('cell', '')}` does not hold"
    )


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _stored(row: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    text = _dumps(row)
    return row, text, hashlib.sha256(text.encode()).hexdigest()


@dataclass
class TableOutcome:
    inputs: dict[str, Any]
    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def fired(self) -> list[CompiledRule]:
        return [row.rule for row in self.rows if row.fired]

    def stored_rows(self) -> list[tuple[dict[str, Any], str, str]]:
        """Each row's stored form, JSON text and digest (RowOutcome.stored)."""
        return [row.stored() for row in self.rows]


def evaluate_rows(
    table: CompiledTable, rules: list[CompiledRule], context: EvaluationContext
) -> TableOutcome:
    """Which of `rules` fire for the plan behind `context.data`, and why the others do not."""
    values: list[Any] = []
    problems: dict[int, str] = {}
    inputs: dict[str, Any] = {}
    for index, column in enumerate(table.columns):
        value = None
        if column.reference:
            value = context.data.last(column.reference)
        elif column.expression is not None:
            try:
                value = column.expression.evaluate(context)
            except ExpressionRuntimeError as error:
                problems[index] = f"could not be calculated: {error}"
        values.append(value)
        inputs[column.name] = to_json(value)
    outcome = TableOutcome(inputs=inputs)
    # Each column's value read once for its type; cells compare without reading it again.
    coerced: dict[int, Any] = {}
    for rule in rules:
        if rule.problem:
            problem = f"not run: the row does not validate ({rule.problem})"
            outcome.rows.append(RowOutcome(rule, False, problem=problem))
            continue
        for index, condition, text, _description in rule.cells:
            if index in problems:
                holds = False
            elif hasattr(condition, "holds_coerced"):
                if index not in coerced:
                    coerced[index] = coerce_value(table.columns[index].field_type, values[index])
                holds = condition.holds_coerced(coerced[index])
            else:
                holds = condition.holds(values[index])
            if not holds:
                name = table.columns[index].name
                problem = f"{name} {problems[index]}" if index in problems else ""
                outcome.rows.append(RowOutcome(rule, False, name, text, problem))
                break
        else:
            outcome.rows.append(RowOutcome(rule, True))
    return outcome


def _show(shown: Any) -> str:
    """A JSON input value in words."""
    if shown is None or shown == "" or shown == []:
        return "empty"
    return (
        f"“{shown}”"
        if isinstance(shown, str)
        else str(shown).lower()
        if isinstance(shown, bool)
        else str(shown)
    )
