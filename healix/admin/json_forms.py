"""JSON in the admin: typed in, read by healix/strict_json.py (the parser of REST bodies too),
and shown (json_block).

Django's forms.JSONField catches only JSONDecodeError: 2,000 levels of nesting (RecursionError)
or a 5,000-digit number (ValueError) were a 500, and NaN or U+0000, which it accepts, a 500
when PostgreSQL refused to store them. Here each is a form error naming the reason. The
admin uses StrictJSONFormField for every model JSONField (StrictJSONAdminMixin, a base of
every scoped admin), and JSONObjectField where a form takes a JSON object that is not a model
field.
"""

import json
from typing import Any

from django import forms
from django.db import models
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils.html import format_html

from healix import strict_json
from healix.api.problems import pointer

__all__ = [
    "JSONObjectField",
    "StrictJSONAdminMixin",
    "StrictJSONFormField",
    "json_block",
    "parse_strict",
]


def parse_strict(text: str) -> Any:
    """The JSON value of `text` as the database can store it, or forms.ValidationError."""
    try:
        value = strict_json.loads(text)
    except strict_json.StrictJSONError as error:
        raise forms.ValidationError(
            "Not valid JSON: %(reason)s.", code="invalid", params={"reason": str(error)}
        ) from None
    where = strict_json.nul_path(value)
    if where is not None:
        raise forms.ValidationError(
            "U+0000 (NUL) cannot be stored; it is at %(where)s.",
            code="nul",
            params={"where": pointer(*where)},
        )
    return value


class StrictJSONFormField(forms.JSONField):
    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        if isinstance(value, list | dict | int | float | JSONString):
            return value  # already parsed (an initial value)
        converted = parse_strict(value)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # What the page shows again after an error: the text as typed when it is not JSON.
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return strict_json.loads(data)
        except strict_json.StrictJSONError:
            return InvalidJSONInput(data)


class JSONObjectField(forms.CharField):
    """A JSON object typed into a form (the rules simulator's payload and values); empty is
    {}."""

    def to_python(self, value: Any) -> dict[str, Any]:
        text = super().to_python(value)
        if not text:
            return {}
        parsed = parse_strict(text)
        if not isinstance(parsed, dict):
            raise forms.ValidationError("Give a JSON object, {...}.", code="not_an_object")
        return parsed


class StrictJSONAdminMixin:
    """For a ModelAdmin or an inline: every model JSONField gets StrictJSONFormField."""

    def formfield_for_dbfield(self, db_field: models.Field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("form_class", StrictJSONFormField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def json_block(value: Any) -> str:
    """JSON for a read-only admin field: indented, and long values wrapped within the page."""
    return format_html(
        '<pre class="healix-json">{}</pre>',  # styled in healix/static/healix/admin.css
        json.dumps(value, indent=2, ensure_ascii=False),
    )
