"""The "integrations" section of the plan template document (templates/transfer_sections.py
appends it to SECTIONS; format in docs/template-format.md)."""

from typing import Any

from integrations.models import (
    RESERVED_FIELD_NAMES,
    IntegrationDefinition,
    IntegrationField,
    IntegrationFieldType,
)
from integrations.models.inbound import schema_problems
from templates.models import PlanTemplate
from templates.transfer_base import (
    IDENTIFIER_SCHEMA,
    ImportContext,
    ImportProblem,
    Section,
    duplicate_problems,
    identifier_problems,
    join_pointer,
)

__all__ = ["INTEGRATIONS"]


def _export(template: PlanTemplate) -> list[dict[str, Any]]:
    definitions = sorted(template.integrations.prefetch_related("fields"), key=lambda d: d.subject)
    return [
        {
            "subject": definition.subject,
            "description": definition.description,
            "fields": [
                {"name": f.name, "type": f.field_type, "required": f.required}
                for f in sorted(definition.fields.all(), key=lambda f: (f.position, f.pk))
            ],
            "rawSchema": definition.raw_schema,
        }
        for definition in definitions
    ]


def _check(items: list[dict], body: dict, pointer: str) -> list[ImportProblem]:
    problems = duplicate_problems((i["subject"] for i in items), pointer, "subject", "subject")
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        problems += identifier_problems(item["subject"], join_pointer(here, "subject"))
        fields = item.get("fields", [])
        fields_at = join_pointer(here, "fields")
        problems += duplicate_problems((f["name"] for f in fields), fields_at, "name", "field")
        for position, field in enumerate(fields):
            name_at = join_pointer(fields_at, position, "name")
            problems += identifier_problems(field["name"], name_at)
            if field["name"] in RESERVED_FIELD_NAMES:
                message = f"{field['name']} is reserved: every payload may use it for routing."
                problems.append(ImportProblem(name_at, message))
        raw = item.get("rawSchema")
        if raw is not None:
            raw_at = join_pointer(here, "rawSchema")
            problems += [ImportProblem(raw_at, message) for message in schema_problems(raw)]
    return problems


def _create(items: list[dict], context: ImportContext, pointer: str) -> None:
    for index, item in enumerate(items):
        here = join_pointer(pointer, index)
        definition = IntegrationDefinition(
            organization=context.organization,
            template=context.template,
            subject=item["subject"],
            description=item.get("description", ""),
            raw_schema=item.get("rawSchema"),
        )
        context.save(definition, here)
        for position, field in enumerate(item.get("fields", [])):
            context.save(
                IntegrationField(
                    definition=definition,
                    name=field["name"],
                    field_type=field["type"],
                    required=field.get("required", False),
                    position=position,
                ),
                join_pointer(here, "fields", position),
            )


INTEGRATIONS = Section(
    key="integrations",
    schema={
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["subject"],
            "properties": {
                "subject": IDENTIFIER_SCHEMA,
                "description": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "type"],
                        "properties": {
                            "name": IDENTIFIER_SCHEMA,
                            "type": {"enum": IntegrationFieldType.values},
                            "required": {"type": "boolean"},
                        },
                    },
                },
                "rawSchema": {"type": ["object", "null"]},
            },
        },
    },
    export=_export,
    check=_check,
    create=_create,
    clear=lambda template: template.integrations.all().delete(),
)
