"""The sections of a template document: one small handler per key under "template".

Each Section says how its part of a template is exported, what its JSON Schema is, which
semantic checks it needs (duplicates, references) and how it is written back. A later issue
adds its part (integrations, rules) by writing one more Section (see transfer_base.Section) and
appending it to SECTIONS; nothing else in the import or export pipeline changes.
"""

from typing import Any

from healix.models import UserType
from integrations.inbound.transfer import INTEGRATIONS
from rules.transfer import DECISION_TABLE
from templates.models import (
    CHOICE_TYPES,
    AssignMode,
    CustomField,
    FieldType,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
)
from templates.transfer_base import (
    IDENTIFIER_SCHEMA,
    ImportContext,
    ImportProblem,
    Section,
    duplicate_problems,
    identifier_problems,
    join_pointer,
)

__all__ = ["SECTIONS"]

TYPED_FIELD_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type"],
    "properties": {
        "name": IDENTIFIER_SCHEMA,
        "label": {"type": "string", "maxLength": 200},
        "type": {"enum": FieldType.values},
        "required": {"type": "boolean"},
        "choices": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "uniqueItems": True,
        },
    },
}


def _check_typed_fields(items: list[dict], pointer: str) -> list[ImportProblem]:
    problems = duplicate_problems((item["name"] for item in items), pointer, "name", "field name")
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        problems += identifier_problems(item["name"], join_pointer(here, "name"))
        choices = item.get("choices", [])
        if item["type"] in CHOICE_TYPES and not choices:
            problems.append(
                ImportProblem(
                    join_pointer(here, "choices"),
                    f"A {item['type']!r} field needs at least one value in choices.",
                )
            )
        elif item["type"] not in CHOICE_TYPES and choices:
            problems.append(
                ImportProblem(
                    join_pointer(here, "choices"),
                    "Only choice fields have values to choose from; "
                    f"this field is {item['type']!r}.",
                )
            )
    return problems


def _typed_field_kwargs(item: dict) -> dict[str, Any]:
    return {
        "name": item["name"],
        "label": item.get("label", ""),
        "field_type": item["type"],
        "required": item.get("required", False),
        "choices": list(item.get("choices", [])),
    }


def _export_typed_field(obj: FormField | CustomField) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "type": obj.field_type,
        "required": obj.required,
        "choices": list(obj.choices),  # order kept: it is the order shown to users
    }


# --- roles -------------------------------------------------------------------------------------


def _export_roles(template: PlanTemplate) -> list[dict]:
    # Sorted in Python, not by the database, so the order does not depend on its collation.
    return [
        {
            "roleId": role.role_id,
            "name": role.name,
            "description": role.description,
            "assignableUserTypes": sorted(role.assignable_user_types, key=UserType.values.index),
            "isPrimary": role.is_primary,
        }
        for role in sorted(template.roles.all(), key=lambda role: role.role_id)
    ]


def _check_roles(items: list[dict], body: dict, pointer: str) -> list[ImportProblem]:
    problems = duplicate_problems((item["roleId"] for item in items), pointer, "roleId", "roleId")
    primary_at = None
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        problems += identifier_problems(item["roleId"], join_pointer(here, "roleId"))
        if item.get("isPrimary"):
            if primary_at is None:
                primary_at = here
            else:
                problems.append(
                    ImportProblem(
                        join_pointer(here, "isPrimary"),
                        "A template has at most one primary role; "
                        f"{primary_at} is primary already.",
                    )
                )
    return problems


def _create_roles(items: list[dict], context: ImportContext, pointer: str) -> None:
    roles = context.refs.setdefault("roles", {})
    for index, item in enumerate(items):
        role = Role(
            organization=context.organization,
            template=context.template,
            role_id=item["roleId"],
            name=item["name"],
            description=item.get("description", ""),
            assignable_user_types=list(item.get("assignableUserTypes", [])),
            is_primary=item.get("isPrimary", False),
        )
        context.save(role, join_pointer(pointer, index))
        roles[role.role_id] = role


ROLES = Section(
    key="roles",
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["roleId", "name"],
            "properties": {
                "roleId": IDENTIFIER_SCHEMA,
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": "string"},
                "assignableUserTypes": {
                    "type": "array",
                    "items": {"enum": UserType.values},
                    "uniqueItems": True,
                },
                "isPrimary": {"type": "boolean"},
            },
        },
    },
    export=_export_roles,
    check=_check_roles,
    create=_create_roles,
    clear=lambda template: template.roles.all().delete(),
)


# --- forms and their fields --------------------------------------------------------------------


def _export_forms(template: PlanTemplate) -> list[dict]:
    forms = sorted(template.forms.prefetch_related("fields"), key=lambda form: form.name)
    return [
        {
            "name": form.name,
            "title": form.title,
            # Field order is meaningful (it is the order on the form): keep position order.
            "fields": [
                _export_typed_field(form_field)
                for form_field in sorted(form.fields.all(), key=lambda f: (f.position, f.pk))
            ],
        }
        for form in forms
    ]


def _check_forms(items: list[dict], body: dict, pointer: str) -> list[ImportProblem]:
    problems = duplicate_problems((item["name"] for item in items), pointer, "name", "form name")
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        problems += identifier_problems(item["name"], join_pointer(here, "name"))
        problems += _check_typed_fields(item.get("fields", []), join_pointer(here, "fields"))
    return problems


def _create_forms(items: list[dict], context: ImportContext, pointer: str) -> None:
    forms = context.refs.setdefault("forms", {})
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        form = Form(
            organization=context.organization,
            template=context.template,
            name=item["name"],
            title=item.get("title", ""),
        )
        context.save(form, here)
        for position, field_item in enumerate(item.get("fields", [])):
            form_field = FormField(form=form, position=position, **_typed_field_kwargs(field_item))
            context.save(form_field, join_pointer(here, "fields", position))
        forms[form.name] = form


FORMS = Section(
    key="forms",
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": IDENTIFIER_SCHEMA,
                "title": {"type": "string", "maxLength": 200},
                "fields": {"type": "array", "items": TYPED_FIELD_SCHEMA},
            },
        },
    },
    export=_export_forms,
    check=_check_forms,
    create=_create_forms,
    clear=lambda template: template.forms.all().delete(),
)


# --- form assignments (tasks) ------------------------------------------------------------------


def _export_form_assignments(template: PlanTemplate) -> list[dict]:
    definitions = template.form_assignment_definitions.select_related("form", "role")
    return [
        {
            "form": definition.form.name,
            "role": definition.role.role_id,
            "assign": definition.assign_mode,
            "defaultCalculations": dict(sorted(definition.default_calculations.items())),
        }
        for definition in sorted(definitions, key=lambda d: (d.form.name, d.role.role_id))
    ]


def _check_form_assignments(items: list[dict], body: dict, pointer: str) -> list[ImportProblem]:
    role_ids = {role["roleId"] for role in body.get("roles", [])}
    form_fields: dict[str, list[str]] = {}
    for form in body.get("forms", []):
        names = [form_field["name"] for form_field in form.get("fields", [])]
        form_fields.setdefault(form["name"], list(dict.fromkeys(names)))
    problems = duplicate_problems(
        ((item["form"], item["role"]) for item in items), pointer, None, "(form, role) pair"
    )
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        if item["form"] not in form_fields:
            known = ", ".join(sorted(form_fields)) or "none"
            problems.append(
                ImportProblem(
                    join_pointer(here, "form"),
                    f"No form named {item['form']!r} in this template (forms: {known}).",
                )
            )
        else:
            fields = form_fields[item["form"]]
            for key in item.get("defaultCalculations", {}):
                if key not in fields:
                    problems.append(
                        ImportProblem(
                            join_pointer(here, "defaultCalculations", key),
                            f"{key!r} is not a field of form {item['form']!r} "
                            f"(fields: {', '.join(fields) or 'none'}).",
                        )
                    )
        if item["role"] not in role_ids:
            known = ", ".join(sorted(role_ids)) or "none"
            problems.append(
                ImportProblem(
                    join_pointer(here, "role"),
                    f"No role with roleId {item['role']!r} in this template (roles: {known}).",
                )
            )
    return problems


def _create_form_assignments(items: list[dict], context: ImportContext, pointer: str) -> None:
    for index, item in enumerate(items):
        definition = FormAssignmentDefinition(
            organization=context.organization,
            template=context.template,
            form=context.refs["forms"][item["form"]],
            role=context.refs["roles"][item["role"]],
            assign_mode=item.get("assign", AssignMode.AT_ONCE),
            default_calculations=dict(item.get("defaultCalculations", {})),
        )
        context.save(definition, join_pointer(pointer, index))


FORM_ASSIGNMENTS = Section(
    key="formAssignments",
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["form", "role"],
            "properties": {
                "form": {"type": "string"},
                "role": {"type": "string"},
                "assign": {"enum": AssignMode.values},
                "defaultCalculations": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                },
            },
        },
    },
    export=_export_form_assignments,
    check=_check_form_assignments,
    create=_create_form_assignments,
    clear=lambda template: template.form_assignment_definitions.all().delete(),
)


# --- custom fields -----------------------------------------------------------------------------


def _create_custom_fields(items: list[dict], context: ImportContext, pointer: str) -> None:
    for index, item in enumerate(items):
        custom_field = CustomField(
            organization=context.organization,
            template=context.template,
            **_typed_field_kwargs(item),
        )
        context.save(custom_field, join_pointer(pointer, index))


CUSTOM_FIELDS = Section(
    key="customFields",
    schema={"type": "array", "items": TYPED_FIELD_SCHEMA},
    export=lambda template: [
        _export_typed_field(custom_field)
        for custom_field in sorted(template.custom_fields.all(), key=lambda f: f.name)
    ],
    check=lambda items, body, pointer: _check_typed_fields(items, pointer),
    create=_create_custom_fields,
    clear=lambda template: template.custom_fields.all().delete(),
)


# In document order. Written (and checked) in this order, cleared in reverse: a section may
# refer to the sections before it (formAssignments names forms and roles).
# The decision table comes last: its cells and expressions read every section before it.
SECTIONS: tuple[Section, ...] = (
    ROLES,
    FORMS,
    FORM_ASSIGNMENTS,
    CUSTOM_FIELDS,
    INTEGRATIONS,
    DECISION_TABLE,
)
