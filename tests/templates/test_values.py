"""templates/values.py: one JSON shape per field type, checked without the database."""

from dataclasses import dataclass, field

import pytest

from templates.values import check_value, check_values


@dataclass
class Field:
    name: str
    field_type: str
    required: bool = False
    choices: list[str] = field(default_factory=list)


@pytest.mark.parametrize(
    ("field_type", "choices", "value", "error"),
    [
        ("text", [], "hello", None),
        ("text", [], 5, "Expected text."),
        ("number", [], 3.5, None),
        ("number", [], -2, None),
        ("number", [], True, "Expected a number."),
        ("number", [], "3", "Expected a number."),
        ("number", [], float("nan"), "Expected a number."),
        ("number", [], float("inf"), "Expected a number."),
        ("boolean", [], False, None),
        ("boolean", [], 0, "Expected true or false."),
        ("choice", ["a", "b"], "a", None),
        ("choice", ["a", "b"], "c", "Expected one of: a, b."),
        ("choices", ["a", "b"], ["b", "a"], None),
        ("choices", ["a", "b"], ["a", "a"], "Each value may appear only once."),
        ("choices", ["a", "b"], ["c"], "Not allowed: c. Allowed: a, b."),
        ("choices", ["a", "b"], "a", "Expected a list of values."),
        ("date", [], "2026-01-31", None),
        ("date", [], "2026-02-30", "Expected a date as YYYY-MM-DD."),
        ("date", [], "2026-W05-1", "Expected a date as YYYY-MM-DD."),
        ("date", [], "20260131", "Expected a date as YYYY-MM-DD."),
        ("datetime", [], "2026-01-31T09:30:00Z", None),
        ("datetime", [], "2026-01-31T09:30:00.250+01:00", None),
    ],
)
def test_each_type_has_one_json_shape(field_type, choices, value, error):
    assert check_value(Field("f", field_type, choices=choices), value) == error


@pytest.mark.parametrize(
    "value",
    ["2026-01-31T09:30:00", "2026-01-31 09:30:00+00:00", "20260131T093000Z", "2026-01-31"],
)
def test_datetimes_are_rfc3339_with_an_offset(value):
    assert check_value(Field("f", "datetime"), value) == (
        "Expected a date and time in RFC 3339 with an offset, e.g. 2026-01-31T09:30:00Z."
    )


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_values_are_missing(empty):
    assert check_value(Field("f", "choices", required=True, choices=["a"]), empty) == (
        "This field is required."
    )
    assert check_value(Field("f", "choices", choices=["a"]), empty) is None


def test_check_values_names_unknown_and_skips_absent_when_partial():
    fields = [Field("age", "number", required=True), Field("notes", "text")]
    assert check_values(fields, {"colour": "red"}, owner="form intake") == {
        "colour": "Not a field of form intake.",
        "age": "This field is required.",
    }
    assert check_values(fields, {"notes": "x"}, partial=True) == {}
