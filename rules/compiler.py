"""Checking and compiling a decision table: every cell, expression and reference, on save.

The same checks serve the admin (errors keyed by the field or the column at fault, each naming
the column's type), the template import (refused whole on any error) and the engine, which
compiles a template's table once per batch and never parses at run time.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from rules.action_compiler import CompiledAction, check_action
from rules.expression_checks import DATE_TYPES, compile_checked, expression_fits, type_name
from rules.languages.conditions import Condition
from rules.languages.errors import CellSyntaxError
from rules.languages.expressions import Expression
from rules.languages.shorthand import parse_cell
from rules.models import Rule, RuleAction, RuleColumn, Trigger
from rules.references import ReferenceCatalog, UnknownReference
from templates.models import PlanTemplate

__all__ = [
    "CompiledColumn",
    "CompiledRule",
    "CompiledTable",
    "TableErrors",
    "check_column",
    "check_rule",
    "compile_table",
]


class TableErrors(Exception):
    """Everything wrong with a table: {"columns.<name>": [...], "rules.<name>": {...}}."""

    def __init__(self, errors: dict[str, Any]) -> None:
        self.errors = errors
        super().__init__("; ".join(_flatten(errors)))


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [line for key, value in errors.items() for line in _flatten(value, f"{key}: ")]
    if isinstance(errors, list):
        return [line for value in errors for line in _flatten(value, prefix)]
    return [f"{prefix}{errors}"]


@lru_cache(maxsize=8192)
def _parse_cell(text: str, field_type: str, choices: tuple[str, ...]) -> Condition:
    # Conditions are immutable, so a table compiled per batch reuses the parse of equal cells.
    return parse_cell(text, field_type, choices or None)


@dataclass(frozen=True)
class CompiledColumn:
    name: str
    field_type: str
    choices: tuple[str, ...]
    reference: str = ""
    expression: Expression | None = None


def check_column(catalog: ReferenceCatalog, column: RuleColumn) -> CompiledColumn:
    """The compiled column, or ValueError({"field": message})."""
    if column.reference and column.expression:
        raise ValueError({"expression": "Give a reference or an expression, not both."})
    if column.reference:
        try:
            info = catalog.require(column.reference)
        except UnknownReference as error:
            raise ValueError({"reference": str(error)}) from None
        return CompiledColumn(column.name, info.field_type, info.choices, column.reference)
    if not column.expression:
        raise ValueError({"reference": "Give a data reference, or a calculated expression."})
    if not column.value_type:
        raise ValueError({"value_type": "A calculated column needs the type of its value."})
    try:
        expression = compile_checked(column.expression, catalog)
    except ValueError as error:
        raise ValueError({"expression": str(error)}) from None
    if not expression_fits(expression, column.value_type):
        raise ValueError(
            {
                "expression": f"The expression gives {expression.infer_type()}, not "
                f"{type_name(column.value_type)} (the column's type)."
            }
        )
    return CompiledColumn(column.name, column.value_type, (), "", expression)


@dataclass(frozen=True)
class CompiledRule:
    pk: int | None
    name: str
    position: int
    enabled: bool
    trigger: str
    subject: str
    # (column index, condition, cell text, its description), only the non-empty cells.
    cells: tuple[tuple[int, Condition, str, str], ...]
    actions: tuple[CompiledAction, ...]
    elapsed_reference: str = ""
    elapsed_amount: int | None = None
    elapsed_unit: str = ""
    problem: str = ""  # set when the row no longer validates: it is recorded, never run
    # The stored form of each outcome of this row (rules/engine.py), made once per table.
    json_cache: dict = field(default_factory=dict, compare=False, repr=False)


def check_rule(
    catalog: ReferenceCatalog,
    columns: Sequence[CompiledColumn],
    rule: Rule,
) -> tuple[CompiledRule, dict[str, str]]:
    """The compiled row (actions left empty) and its errors: {field or "cell:<column>": msg}."""
    errors: dict[str, str] = {}
    if rule.trigger == Trigger.INTEGRATION and rule.subject:
        subjects = set(catalog.template.integrations.values_list("subject", flat=True))
        if rule.subject not in subjects:
            listed = ", ".join(sorted(subjects)) or "none defined"
            errors["subject"] = f"{rule.subject} is not an integration of this template ({listed})."
    if rule.trigger == Trigger.TIME_ELAPSED:
        if not rule.elapsed_reference:
            errors["elapsed_reference"] = "Give the date or date-time the time is counted from."
        else:
            try:
                info = catalog.require(rule.elapsed_reference)
                if info.field_type not in DATE_TYPES:
                    errors["elapsed_reference"] = (
                        f"{info.reference} is {type_name(info.field_type)}, "
                        "not a date or date and time."
                    )
            except UnknownReference as error:
                errors["elapsed_reference"] = str(error)
        if not rule.elapsed_amount:
            errors["elapsed_amount"] = "Give how many units must elapse."
        if not rule.elapsed_unit:
            errors["elapsed_unit"] = "Give the unit."
    cells = rule.cells if isinstance(rule.cells, dict) else {}
    if not isinstance(rule.cells, dict):
        errors["cells"] = "Cells are an object of column name to cell text."
    by_name = {column.name: index for index, column in enumerate(columns)}
    for name in sorted(set(cells) - set(by_name)):
        if str(cells[name]).strip():
            errors[f"cell:{name}"] = f"There is no column {name}."
    compiled_cells = []
    for index, column in enumerate(columns):
        text = cells.get(column.name, "")
        if not isinstance(text, str):
            errors[f"cell:{column.name}"] = f"A cell is text ({column.field_type} column)."
            continue
        if not text.strip():
            continue
        try:
            condition = _parse_cell(text, column.field_type, tuple(column.choices))
        except CellSyntaxError as error:
            errors[f"cell:{column.name}"] = str(error)
            continue
        compiled_cells.append((index, condition, text.strip(), condition.describe()))
    compiled = CompiledRule(
        pk=rule.pk,
        name=rule.name,
        position=rule.position,
        enabled=rule.enabled,
        trigger=rule.trigger,
        subject=rule.subject,
        cells=tuple(compiled_cells),
        actions=(),
        elapsed_reference=rule.elapsed_reference,
        elapsed_amount=rule.elapsed_amount,
        elapsed_unit=rule.elapsed_unit,
    )
    return compiled, errors


@dataclass
class CompiledTable:
    template_id: int
    organization_id: int
    columns: list[CompiledColumn] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)
    catalog: ReferenceCatalog | None = None
    _chosen: dict = field(default_factory=dict, repr=False)  # rules_for, per trigger

    def rules_for(
        self, trigger: str, subject: str = "", rule_id: int | None = None
    ) -> list[CompiledRule]:
        """The enabled rows a trigger evaluates, in row order."""
        key = (trigger, subject, rule_id)
        if key in self._chosen:
            return self._chosen[key]
        chosen = []
        for rule in self.rules:
            if not rule.enabled or rule.trigger != trigger:
                continue
            if trigger == Trigger.INTEGRATION and rule.subject and rule.subject != subject:
                continue
            if rule_id is not None and rule.pk != rule_id:
                continue
            chosen.append(rule)
        self._chosen[key] = chosen
        return chosen

    def references(self) -> set[str]:
        """Every data reference the table reads, so the data loader fetches only these."""
        found: set[str] = set()
        for column in self.columns:
            if column.reference:
                found.add(column.reference)
            if column.expression is not None:
                found |= column.expression.references()
        for rule in self.rules:
            if rule.elapsed_reference:
                found.add(rule.elapsed_reference)
            for action in rule.actions:
                for _name, expression in action.prefill:
                    found |= expression.references()
                if action.value is not None:
                    found |= action.value.references()
        return found


def compile_table(
    template: PlanTemplate,
    *,
    columns: Iterable[RuleColumn] | None = None,
    rules: Iterable[tuple[Rule, Iterable[RuleAction]]] | None = None,
    strict: bool = False,
) -> CompiledTable:
    """Compile `template`'s table (or the given unsaved columns and rows).

    strict: raise TableErrors for anything wrong (save and import). Otherwise a broken column
    or row (a form field deleted since it was saved) is kept with its `problem`, so the engine
    records it instead of failing.
    """
    catalog = ReferenceCatalog(template)
    if columns is None:
        columns = list(template.rule_columns.all())
    if rules is None:
        rule_rows = list(
            template.rules.prefetch_related(
                "actions__form_assignment__form__fields",
                "actions__work_queue__statuses",
            )
        )
        rules = [(rule, list(rule.actions.all())) for rule in rule_rows]
    errors: dict[str, Any] = {}
    table = CompiledTable(template.pk, template.organization_id, catalog=catalog)
    broken_columns: dict[str, str] = {}
    for column in columns:
        try:
            table.columns.append(check_column(catalog, column))
        except ValueError as error:
            (message,) = error.args
            errors[f"columns.{column.name}"] = message
            broken_columns[column.name] = "; ".join(message.values())
            # Keep the column so cells stay aligned; it reads nothing and matches nothing typed.
            table.columns.append(CompiledColumn(column.name, "broken", ()))
    good_columns = [c for c in table.columns if c.field_type != "broken"]
    index_of = {c.name: i for i, c in enumerate(table.columns)}
    for rule, actions in rules:
        compiled, rule_errors = check_rule(catalog, good_columns, rule)
        # Re-index cells to the full column list.
        cells = tuple(
            (index_of[good_columns[i].name], condition, text, description)
            for i, condition, text, description in compiled.cells
        )
        for name, problem in broken_columns.items():
            if str((rule.cells or {}).get(name, "")).strip():
                rule_errors[f"cell:{name}"] = f"column {name} does not validate: {problem}"
        compiled_actions = []
        for action in sorted(actions, key=lambda a: (a.position, a.pk or 0)):
            try:
                compiled_actions.append(check_action(catalog, action))
            except ValueError as error:
                (message,) = error.args
                for key, text in message.items():
                    rule_errors[f"action {action.position}: {key}"] = text
        if rule_errors:
            errors[f"rules.{rule.name}"] = rule_errors
        problem = "; ".join(f"{key}: {text}" for key, text in rule_errors.items())
        table.rules.append(
            replace(
                compiled,
                json_cache={},
                cells=cells,
                actions=tuple(compiled_actions),
                problem=problem,
            )
        )
    table.rules.sort(key=lambda r: (r.position, r.pk or 0))
    if strict and errors:
        raise TableErrors(errors)
    return table
