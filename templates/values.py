"""Checking values against typed fields (form fields, custom fields).

Values travel as JSON, so each type has one JSON shape: text and choice are strings, number is a
JSON number, boolean is true/false, choices is a list of strings, date is "YYYY-MM-DD" and
datetime is RFC 3339 with an offset. The functions here are pure: they return error messages and
never touch the database.
"""

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from templates.models import FieldType

__all__ = ["MISSING", "check_value", "check_values"]


class TypedFieldLike(Protocol):
    name: str
    field_type: str
    required: bool
    choices: list[str]


MISSING = object()


# The shapes of RFC 3339: fromisoformat alone also takes ISO week dates, basic format and a
# space for the "T", which partners' systems would not read back.
DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
DATETIME_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def _is_number(value: Any) -> bool:
    # bool is a subclass of int in Python, but true is not a number in JSON; NaN and the
    # infinities are floats that JSON (and PostgreSQL's jsonb) cannot hold.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _is_date(value: str) -> bool:
    if not DATE_SHAPE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    if not DATETIME_SHAPE.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def check_value(field: TypedFieldLike, value: Any) -> str | None:
    """The error message for `value` in `field`, or None when it fits. None is "no value"."""
    if value is None or value is MISSING or value == "" or value == []:
        return "This field is required." if field.required else None
    field_type = field.field_type
    if field_type == FieldType.TEXT:
        return None if isinstance(value, str) else "Expected text."
    if field_type == FieldType.NUMBER:
        return None if _is_number(value) else "Expected a number."
    if field_type == FieldType.BOOLEAN:
        return None if isinstance(value, bool) else "Expected true or false."
    if field_type == FieldType.CHOICE:
        if isinstance(value, str) and value in field.choices:
            return None
        return f"Expected one of: {', '.join(field.choices)}."
    if field_type == FieldType.CHOICES:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return "Expected a list of values."
        unknown = [item for item in value if item not in field.choices]
        if unknown:
            return f"Not allowed: {', '.join(unknown)}. Allowed: {', '.join(field.choices)}."
        if len(set(value)) != len(value):
            return "Each value may appear only once."
        return None
    if field_type == FieldType.DATE:
        if isinstance(value, str) and _is_date(value):
            return None
        return "Expected a date as YYYY-MM-DD."
    if field_type == FieldType.DATETIME:
        if isinstance(value, str) and _is_datetime(value):
            return None
        return "Expected a date and time in RFC 3339 with an offset, e.g. 2026-01-31T09:30:00Z."
    return f"Unknown field type {field_type}."


def check_values(
    fields: Iterable[TypedFieldLike],
    values: Mapping[str, Any],
    *,
    partial: bool = False,
    owner: str = "the form",
) -> dict[str, str]:
    """Errors per field name for a whole set of values.

    Unknown names are errors. With `partial`, absent fields are not checked (an update of some
    fields, or a prefill), but a value that is given must still fit its type.
    """
    by_name = {field.name: field for field in fields}
    errors = {name: f"Not a field of {owner}." for name in values if name not in by_name}
    for name, field in by_name.items():
        if partial and name not in values:
            continue
        message = check_value(field, values.get(name, MISSING))
        if message:
            errors[name] = message
    return errors
