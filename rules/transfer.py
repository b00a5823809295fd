"""The "decisionTable" section of the plan template document (templates/transfer_sections.py
appends it to SECTIONS, after the sections it refers to; format in docs/template-format.md).

Import writes the columns, rows and actions, then compiles the whole table as the editor
does on save: any cell, reference or expression that does not validate refuses the whole
document (the import's transaction rolls back), each problem at its JSON pointer.
"""

from typing import Any

from rules.compiler import TableErrors, compile_table
from rules.models import ActionKind, ColumnType, ElapsedUnit, Rule, RuleAction, RuleColumn, Trigger
from templates.models import PlanTemplate, WorkQueue
from templates.transfer_base import (
    IDENTIFIER_SCHEMA,
    ImportContext,
    ImportProblem,
    Section,
    TemplateImportError,
    duplicate_problems,
    identifier_problems,
    join_pointer,
)

__all__ = ["DECISION_TABLE"]

TEXT = {"type": "string"}


def _export(template: PlanTemplate) -> dict[str, Any]:
    columns = [
        {"name": c.name, "reference": c.reference}
        if c.reference
        else {"name": c.name, "expression": c.expression, "type": c.value_type}
        for c in template.rule_columns.order_by("position", "id")
    ]
    rules = []
    for rule in template.rules.order_by("position", "id").prefetch_related(
        "actions__form_assignment__form", "actions__form_assignment__role", "actions__work_queue"
    ):
        row: dict[str, Any] = {
            "name": rule.name,
            "enabled": rule.enabled,
            "when": rule.trigger,
            "cells": dict(sorted(rule.cells.items())),
            "actions": [_export_action(a) for a in rule.actions.order_by("position", "id")],
        }
        if rule.trigger == Trigger.INTEGRATION:
            row["subject"] = rule.subject
        if rule.trigger == Trigger.TIME_ELAPSED:
            row["elapsed"] = {
                "since": rule.elapsed_reference,
                "amount": rule.elapsed_amount,
                "unit": rule.elapsed_unit,
            }
        rules.append(row)
    return {"columns": columns, "rules": rules}


def _export_action(action: RuleAction) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": action.kind}
    if action.kind == ActionKind.ASSIGN_FORM:
        item["form"] = action.form_assignment.form.name
        item["role"] = action.form_assignment.role.role_id
    elif action.kind == ActionKind.SET_DATA_POINT:
        item["target"] = action.target
        item["expression"] = action.expression
    else:
        item["workQueue"] = action.work_queue.name
        item["status"] = action.status
        if action.kind == ActionKind.CREATE_WORK_QUEUE_ITEM:
            item["title"] = action.expression
    return item


def _check(value: dict, body: dict, pointer: str) -> list[ImportProblem]:
    """Names and cross-references within the document; the languages are checked on create,
    against the template as written."""
    problems = []
    columns = value.get("columns", [])
    columns_at = join_pointer(pointer, "columns")
    problems += duplicate_problems((c["name"] for c in columns), columns_at, "name", "column")
    for index, column in enumerate(columns):
        here = join_pointer(columns_at, index)
        problems += identifier_problems(column["name"], join_pointer(here, "name"))
        if ("reference" in column) == ("expression" in column):
            problems.append(ImportProblem(here, "Give either reference, or expression and type."))
        elif "expression" in column and "type" not in column:
            problems.append(ImportProblem(here, "A calculated column needs its type."))
    rules_at = join_pointer(pointer, "rules")
    rules = value.get("rules", [])
    problems += duplicate_problems((r["name"] for r in rules), rules_at, "name", "rule")
    pairs = {(a["form"], a["role"]) for a in body.get("formAssignments", [])}
    for index, rule in enumerate(rules):
        here = join_pointer(rules_at, index)
        if rule.get("when") == Trigger.TIME_ELAPSED and "elapsed" not in rule:
            problems.append(ImportProblem(here, "A time-elapsed rule needs elapsed."))
        for position, action in enumerate(rule.get("actions", [])):
            action_at = join_pointer(here, "actions", position)
            kind = action["kind"]
            required = {
                ActionKind.ASSIGN_FORM: ("form", "role"),
                ActionKind.SET_DATA_POINT: ("target", "expression"),
                ActionKind.CREATE_WORK_QUEUE_ITEM: ("workQueue", "title"),
                ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS: ("workQueue", "status"),
            }[kind]
            missing = [key for key in required if key not in action]
            if missing:
                problems.append(ImportProblem(action_at, f"{kind} needs {', '.join(missing)}."))
            elif kind == ActionKind.ASSIGN_FORM and (action["form"], action["role"]) not in pairs:
                problems.append(
                    ImportProblem(
                        action_at,
                        f"No form assignment of form {action['form']!r} to role "
                        f"{action['role']!r} in this template.",
                    )
                )
    return problems


def _create(value: dict, context: ImportContext, pointer: str) -> None:
    template = context.template
    columns_at = join_pointer(pointer, "columns")
    column_pointers = {}
    for index, item in enumerate(value.get("columns", [])):
        column_pointers[item["name"]] = join_pointer(columns_at, index)
        column = RuleColumn(
            organization=context.organization,
            template=template,
            position=index,
            name=item["name"],
            reference=item.get("reference", ""),
            expression=item.get("expression", ""),
            value_type=item.get("type", ""),
        )
        context.save(column, join_pointer(columns_at, index))
    rules_at = join_pointer(pointer, "rules")
    queues = {q.name: q for q in WorkQueue.objects.filter(organization=context.organization)}
    rule_pointers = {}
    for index, item in enumerate(value.get("rules", [])):
        here = join_pointer(rules_at, index)
        elapsed = item.get("elapsed", {})
        rule = Rule(
            organization=context.organization,
            template=template,
            position=index,
            name=item["name"],
            enabled=item.get("enabled", True),
            trigger=item.get("when", Trigger.ON_CHANGE),
            subject=item.get("subject", ""),
            elapsed_reference=elapsed.get("since", ""),
            elapsed_amount=elapsed.get("amount"),
            elapsed_unit=elapsed.get("unit", ""),
            cells=dict(item.get("cells", {})),
        )
        context.save(rule, here)
        rule_pointers[rule.name] = here
        for position, spec in enumerate(item.get("actions", [])):
            action_at = join_pointer(here, "actions", position)
            action = RuleAction(
                organization=context.organization, rule=rule, position=position, kind=spec["kind"]
            )
            if spec["kind"] == ActionKind.ASSIGN_FORM:
                action.form_assignment = template.form_assignment_definitions.get(
                    form__name=spec["form"], role__role_id=spec["role"]
                )
            elif spec["kind"] == ActionKind.SET_DATA_POINT:
                action.target = spec["target"]
                action.expression = spec["expression"]
            else:
                queue = queues.get(spec["workQueue"])
                if queue is None:
                    known = ", ".join(sorted(queues)) or "none"
                    raise TemplateImportError(
                        [
                            ImportProblem(
                                join_pointer(action_at, "workQueue"),
                                f"No work queue {spec['workQueue']!r} in this organization "
                                f"(queues: {known}).",
                            )
                        ]
                    )
                action.work_queue = queue
                action.status = spec.get("status", "")
                action.expression = spec.get("title", "")
            context.save(action, action_at)
    try:
        compile_table(template, strict=True)
    except TableErrors as error:
        raise TemplateImportError(
            _problems(error.errors, column_pointers, rule_pointers)
        ) from error


def _problems(errors: dict, column_pointers: dict, rule_pointers: dict) -> list[ImportProblem]:
    problems = []
    for key, detail in errors.items():
        kind, _dot, name = key.partition(".")
        if kind == "columns":
            keys = {"value_type": "type"}
            for field_name, message in detail.items():
                where = join_pointer(
                    column_pointers.get(name, ""), keys.get(field_name, field_name)
                )
                problems.append(ImportProblem(where, message))
            continue
        here = rule_pointers.get(name, "")
        for field_name, message in detail.items():
            if field_name.startswith("cell:"):
                problems.append(ImportProblem(join_pointer(here, "cells", field_name[5:]), message))
            else:
                problems.append(ImportProblem(here, f"{field_name}: {message}"))
    return sorted(problems)


COLUMN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": IDENTIFIER_SCHEMA,
        "reference": {"type": "string", "minLength": 1, "maxLength": 300},
        "expression": {"type": "string", "minLength": 1, "maxLength": 4000},
        "type": {"enum": ColumnType.values},
    },
}
ACTION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind"],
    "properties": {
        "kind": {"enum": ActionKind.values},
        "form": TEXT,
        "role": TEXT,
        "target": TEXT,
        "expression": TEXT,
        "workQueue": TEXT,
        "status": TEXT,
        "title": TEXT,
    },
}
RULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "enabled": {"type": "boolean"},
        "when": {"enum": Trigger.values},
        "subject": TEXT,
        "elapsed": {
            "type": "object",
            "additionalProperties": False,
            "required": ["since", "amount", "unit"],
            "properties": {
                "since": TEXT,
                "amount": {"type": "integer", "minimum": 1, "maximum": 100000},
                "unit": {"enum": ElapsedUnit.values},
            },
        },
        "cells": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1000}},
        "actions": {"type": "array", "items": ACTION_SCHEMA},
    },
}

DECISION_TABLE = Section(
    key="decisionTable",
    schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "items": COLUMN_SCHEMA},
            "rules": {"type": "array", "items": RULE_SCHEMA},
        },
    },
    export=_export,
    check=_check,
    create=_create,
    clear=lambda template: (template.rules.all().delete(), template.rule_columns.all().delete()),
    empty=lambda: {"columns": [], "rules": []},
)
