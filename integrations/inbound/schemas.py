"""An integration definition's JSON Schema (draft 2020-12), and validation that reports one
problem per failing field, located by a JSON pointer (RFC 9457's `#/field` form)."""

import datetime
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as JsonSchemaError

from healix.api.problems import pointer
from integrations.models import RESERVED_FIELD_NAMES, IntegrationDefinition, IntegrationFieldType

__all__ = [
    "Problem",
    "definition_schema",
    "derived_schema",
    "payload_problems",
    "pointer",
    "validator_for",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Each field type as JSON Schema. date/date-time are checked (FORMAT_CHECKER below), not just
# annotated: jsonschema ignores formats unless told, and "2026-13-45" must be refused.
TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    IntegrationFieldType.STRING: {"type": "string"},
    IntegrationFieldType.NUMBER: {"type": "number"},
    IntegrationFieldType.INTEGER: {"type": "integer"},
    IntegrationFieldType.BOOLEAN: {"type": "boolean"},
    IntegrationFieldType.DATE: {"type": "string", "format": "date"},
    IntegrationFieldType.DATETIME: {"type": "string", "format": "date-time"},
    IntegrationFieldType.OBJECT: {"type": "object"},
    IntegrationFieldType.ARRAY: {"type": "array"},
}
ROUTING_SCHEMA = {"type": "string", "format": "uuid"}

# RFC 3339 date-time: a time zone is required (Z or an offset), a T or space between.
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        return False
    datetime.date.fromisoformat(value)
    return True


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        return False
    datetime.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


@FORMAT_CHECKER.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(UUID.match(value))


@dataclass(frozen=True)
class Problem:
    """One reason a payload is refused: where (a JSON pointer in URI-fragment form) and why."""

    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


def derived_schema(fields: list[tuple[str, str, bool]], title: str = "") -> dict[str, Any]:
    """The schema of a payload from (name, type, required) fields, plus the routing fields.
    Unknown keys are refused: what no field describes, no rule could read, and extra keys
    would make the same data look different to the first-message-only check."""
    properties = {name: TYPE_SCHEMAS[field_type] for name, field_type, _ in fields}
    properties.update({name: ROUTING_SCHEMA for name in RESERVED_FIELD_NAMES})
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": [name for name, _, required in fields if required],
        "additionalProperties": False,
    }


def definition_schema(definition: IntegrationDefinition) -> dict[str, Any]:
    """The raw schema if the content manager gave one, else the one derived from the fields."""
    if definition.raw_schema is not None:
        return definition.raw_schema
    fields = [(f.name, f.field_type, f.required) for f in definition.fields.all()]
    return derived_schema(fields, title=definition.subject)


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _problems(error: JsonSchemaError) -> list[Problem]:
    path = list(error.absolute_path)
    if error.validator == "required":
        # "'timeSlot' is a required property": point at the missing field itself.
        missing = error.message.split("'")[1] if error.message.count("'") >= 2 else ""
        return [Problem(pointer(*path, missing), "This field is required.")]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [Problem(pointer(*path, name), "Unknown field: not defined.") for name in extra]
    if error.validator == "format":
        expected = error.validator_value
        return [Problem(pointer(*path), f"Expected a {expected}; got {error.instance!r}.")]
    return [Problem(pointer(*path), error.message)]


def payload_problems(validator: Draft202012Validator, payload: Any) -> list[Problem]:
    """Every failing field, one problem each, in pointer order."""
    problems = {problem for error in validator.iter_errors(payload) for problem in _problems(error)}
    return sorted(problems, key=lambda problem: (problem.pointer, problem.detail))
