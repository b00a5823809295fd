"""The shorthand syntax of a decision-table cell: every operator of DOMAIN.md's table, by type.

Pure tests: no database. Each row of the tables below reads "given a column of this type and
this cell, when a value is checked, then the condition holds (or not)".
"""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rules.languages.conditions import AnyValue
from rules.languages.shorthand import (
    MAX_CELL_LENGTH,
    OPERATORS_BY_TYPE,
    CellSyntaxError,
    parse_cell,
)

CHOICES = ("low", "medium", "high")

# (column type, cell, value, holds)
HOLDS_TABLE = [
    # boolean: `=` optional; true, false, yes, no in any case
    ("boolean", "true", True, True),
    ("boolean", "true", False, False),
    ("boolean", "=true", True, True),
    ("boolean", "TRUE", True, True),
    ("boolean", "Yes", True, True),
    ("boolean", "no", False, True),
    ("boolean", "=No", True, False),
    ("boolean", "false", False, True),
    ("boolean", "false", "false", True),  # JSON text of a boolean reads as the boolean
    ("boolean", "false", None, False),  # no value is not false
    ("boolean", "true", 1, False),  # 1 is a number, not a boolean
    # text: = (default), !=, in, notIn; never quoted; exact and case-sensitive
    ("text", "someText", "someText", True),
    ("text", "=someText", "someText", True),
    ("text", "=someText", "SomeText", False),
    ("text", "= some text ", "some text", True),
    ("text", "!=someText", "other", True),
    ("text", "!=someText", "someText", False),
    ("text", "!=someText", None, False),  # a missing value satisfies only `null`
    ("text", "in[a,b]", "b", True),
    ("text", "in[a, b]", "b", True),
    ("text", "in[a,b]", "c", False),
    ("text", "notIn[a,b]", "c", True),
    ("text", "notIn[a,b]", "a", False),
    ("text", "notIn[a,b]", None, False),
    ("text", "inbox", "inbox", True),  # `in` is an operator only before `[`
    ("text", "=in[a]", "in[a]", True),  # `=` first compares text that looks like an operator
    ("text", "=null", "null", True),
    ("text", "5", 5, True),  # a number in a text column compares as its text
    # choice: `=` optional, any defined choice value
    ("choice", "low", "low", True),
    ("choice", "=high", "high", True),
    ("choice", "low", "high", False),
    ("choice", "low", None, False),
    # choices: `=a` holds when a is among the selected values
    ("choices", "low", ["low", "high"], True),
    ("choices", "=medium", ["low", "high"], False),
    ("choices", "high", "high", True),
    ("choices", "high", [], False),
    # number: <=, <, >=, >, =, !=, in, notIn, range, !range
    ("number", "<=10", 10, True),
    ("number", "<=10", 10.5, False),
    ("number", "<10", 9.99, True),
    ("number", "<10", 10, False),
    ("number", ">=10", 10, True),
    ("number", ">=10", 9, False),
    ("number", ">10", 11, True),
    ("number", ">10", 10, False),
    ("number", "=10", 10.0, True),
    ("number", "10", Decimal("10.00"), True),
    ("number", "0.1", 0.1, True),  # the float 0.1 equals the cell's 0.1
    ("number", "=10", 11, False),
    ("number", "!=10", 11, True),
    ("number", "!=10", 10, False),
    ("number", "-2.5e1", -25, True),
    ("number", "in[1,2,3]", 2, True),
    ("number", "in[1,2,3]", 4, False),
    ("number", "notIn[1,2,3]", 4, True),
    ("number", "notIn[1,2,3]", 3, False),
    ("number", "range[22,33]", 22, True),
    ("number", "range[22,33]", 33, True),
    ("number", "range(22,33]", 22, False),
    ("number", "range(22,33]", 33, True),
    ("number", "range[22,33)", 33, False),
    ("number", "range(22,33)", 27.5, True),
    ("number", "!range[22,33]", 21, True),
    ("number", "!range[22,33]", 34, True),
    ("number", "!range[22,33]", 22, False),
    ("number", "!range(22,33)", 22, True),
    ("number", "!range(22,33)", 33, True),
    ("number", "!range(22,33)", 30, False),
    ("number", "range[22,33]", "25", True),  # numeric JSON text is a number
    # numbers that are missing or not numbers satisfy no comparison, and never raise
    ("number", "<=10", None, False),
    ("number", "!=10", None, False),
    ("number", "notIn[1]", None, False),
    ("number", "!range[1,2]", None, False),
    ("number", "<=10", "ten", False),
    ("number", "<=10", True, False),
    ("number", "<=10", float("nan"), False),
    ("number", ">=10", float("inf"), False),
    ("number", "<=10", [1], False),
    # date and datetime compare like numbers, on ISO values
    ("date", "2026-01-31", "2026-01-31", True),
    ("date", "<2026-01-31", date(2026, 1, 30), True),
    ("date", ">=2026-01-31", datetime(2026, 1, 31, 23, 0, tzinfo=UTC), True),
    ("date", "range[2026-01-01,2026-12-31]", "2026-06-15", True),
    ("date", "!range[2026-01-01,2026-12-31]", "2027-01-01", True),
    ("date", "in[2026-01-01,2026-02-01]", "2026-02-01", True),
    ("date", "<=2026-01-31", "2026-01-31", True),
    ("date", ">2026-01-31", "2026-02-01", True),
    ("date", "!=2026-01-31", "2026-01-31", False),
    ("date", "notIn[2026-01-01]", "2026-02-01", True),
    ("date", "<2026-01-31", "not a date", False),
    ("date", "<2026-01-31", "2026-02-30", False),
    ("datetime", ">2026-01-31T09:30:00Z", "2026-01-31T10:30:00+01:00", False),
    ("datetime", ">=2026-01-31T09:30:00Z", "2026-01-31T10:30:00+01:00", True),
    ("datetime", "<2026-01-31T09:30", datetime(2026, 1, 31, 9, 29), True),  # naive is UTC
    ("datetime", "2026-01-31", datetime(2026, 1, 31, tzinfo=UTC), True),
    ("datetime", "<=2026-01-31T09:30:00Z", "2026-01-31T09:30:00Z", True),
    ("datetime", "!=2026-01-31T09:30:00Z", "2026-01-31T09:30:01Z", True),
    ("datetime", "in[2026-01-31T09:30:00Z, 2026-01-31T10:30:00Z]", "2026-01-31T10:30:00Z", True),
    ("datetime", "notIn[2026-01-31T09:30:00Z]", "2026-01-31T09:30:00Z", False),
    ("datetime", "range[2026-01-31T09:00:00Z,2026-01-31T10:00:00Z)", "2026-01-31T10:00Z", False),
    ("datetime", "!range[2026-01-31T09:00:00Z,2026-01-31T10:00:00Z)", "2026-01-31T10:00Z", True),
    ("datetime", "<2026-01-31T09:30:00Z", date(2026, 1, 31), True),
    (
        "datetime",
        "=2026-01-31T09:30:00Z",
        datetime(2026, 1, 31, 4, 30, tzinfo=timezone(timedelta(hours=-5))),
        True,
    ),
    # array: in= (contains), notIn= (does not contain)
    ("array", "in=aaa", ["aaa", "bbb"], True),
    ("array", "in=aaa", ["bbb"], False),
    ("array", "in=3", [1, 3.0], True),
    ("array", "notIn=aaa", ["bbb"], True),
    ("array", "notIn=aaa", ["aaa"], False),
    ("array", "notIn=aaa", None, False),
    ("array", "in=a b", ["a b"], True),
    # any type: null, there is no value
    ("text", "null", None, True),
    ("text", "null", "", True),
    ("text", "null", "  ", True),
    ("text", "null", "x", False),
    ("number", "null", None, True),
    ("number", "NULL", 0, False),
    ("boolean", "null", False, False),
    ("choices", "null", [], True),
    ("array", "null", [], True),
    ("array", "null", ["a"], False),
    ("date", "null", None, True),
    ("datetime", "null", "2026-01-31T09:30:00Z", False),
    ("choice", "null", None, True),
]


@pytest.mark.parametrize(("field_type", "cell", "value", "expected"), HOLDS_TABLE)
def test_every_operator_of_every_type(field_type, cell, value, expected):
    # Given a cell of a column of this type
    condition = parse_cell(cell, field_type, CHOICES)
    # When a value is checked / Then the condition holds exactly as DOMAIN.md says
    assert condition.holds(value) is expected


def test_the_table_covers_every_operator_of_every_type():
    # Given the operators each type allows
    used = {(field_type, _operator_of(cell)) for field_type, cell, _, _ in HOLDS_TABLE}
    # When compared with the holds table / Then every allowed operator was exercised
    missing = {
        (field_type, operator)
        for field_type, operators in OPERATORS_BY_TYPE.items()
        for operator in operators
        if (field_type, operator) not in used
    }
    assert missing == set()


def _operator_of(cell: str) -> str:
    for operator in ("null", "!range", "range", "notIn=", "in=", "notIn", "in", "<=", ">="):
        if cell.lower().startswith(operator.lower()):
            return operator
    for operator in ("!=", "<", ">", "="):
        if cell.startswith(operator):
            return operator
    return "="  # a bare value is equality


@pytest.mark.parametrize("cell", ["", "   ", "\t"])
def test_an_empty_cell_is_dont_care(cell):
    # Given an empty cell / When parsed
    condition = parse_cell(cell, "number")
    # Then it always holds, whatever the value
    assert isinstance(condition, AnyValue)
    assert all(condition.holds(value) for value in (None, 0, "x", [], float("nan")))
    assert condition.describe() == "any value"


# (column type, cell, message, 1-based position)
REFUSALS = [
    ("text", "<5", "`<` is not allowed for a text column; use one of =, !=, in, notIn, null", 1),
    ("text", "range[1,2]", "`range` is not allowed for a text column", 1),
    ("text", "in=a", "`in=` is not allowed for a text column", 1),
    ("boolean", "!=true", "`!=` is not allowed for a boolean column; use one of =, null", 1),
    ("boolean", "in[true]", "`in` is not allowed for a boolean column", 1),
    ("boolean", "maybe", "`maybe` is not a boolean; use true, false, yes or no", 1),
    ("choice", "<low", "`<` is not allowed for a choice column; use one of =, null", 1),
    (
        "choice",
        "urgent",
        "`urgent` is not a choice of this column; use one of low, medium, high",
        1,
    ),
    ("choices", "=urgent", "`urgent` is not a choice of this column", 2),
    ("choices", "notIn[low]", "`notIn` is not allowed for a choices column", 1),
    ("number", "ten", "`ten` is not a number", 1),
    ("number", "<= ten", "`ten` is not a number", 4),
    ("number", "in[1,x]", "`x` is not a number", 6),
    ("number", "in[]", "the list is empty; write at least one value", 3),
    ("number", "in[1,,2]", "unexpected `,2]`; expected a list item", 6),
    ("number", "range[33,22]", "the lower bound 33 is above the upper bound 22", 7),
    ("number", "range[1,2", "the cell ends too early; expected `]` or `)`", 10),
    ("number", "range[1]", "expected `,`", 8),
    ("number", "range[1,2]x", "unexpected `x`", 11),
    ("number", "in=3", "`in=` is not allowed for a number column", 1),
    ("number", "nan", "`nan` is not a number", 1),
    ("number", "inf", "`inf` is not a number", 1),
    ("number", "1_000", "`1_000` is not a number", 1),
    ("number", "=", "the cell ends too early; expected a value", 2),
    (
        "array",
        "aaa",
        "a value without an operator is not allowed for an array column; "
        "use one of in=, notIn=, null",
        1,
    ),
    ("array", "in[a]", "`in` is not allowed for an array column", 1),
    ("date", "2026-02-30", "`2026-02-30` is not a valid date", 1),
    ("date", "31/01/2026", "`31/01/2026` is not a date; write YYYY-MM-DD", 1),
    ("date", "<2026-01-31T10:00:00Z", "is not a date; write YYYY-MM-DD", 2),
    ("datetime", ">yesterday", "`yesterday` is not a date and time", 2),
    ("datetime", "2026-01-31T25:00:00Z", "is not a valid date and time", 1),
    ("text", "  <5", "`<` is not allowed for a text column", 3),  # positions count the cell
    ("date", "range[2026-01-01 , 2025-01-01]", "the lower bound 2026-01-01 is above", 7),
]


@pytest.mark.parametrize(("field_type", "cell", "message", "position"), REFUSALS)
def test_refusals_name_the_problem_the_place_and_the_type(field_type, cell, message, position):
    # Given a cell that does not fit its column / When parsed
    with pytest.raises(CellSyntaxError) as caught:
        parse_cell(cell, field_type, CHOICES)
    # Then one error class tells what, where and for which column type
    error = caught.value
    assert message in error.message
    assert error.position == position
    assert error.field_type == field_type
    assert f"({field_type} column, character {position})" in str(error)


def test_a_choice_column_without_choices_refuses_every_value():
    # Given a choice column that defines no choices / When a value is written
    with pytest.raises(CellSyntaxError, match="this column defines no choices"):
        parse_cell("low", "choice")


@pytest.mark.parametrize(
    ("cell", "field_type", "message"),
    [
        ("x", "colour", "unknown column type `colour`"),
        ("x" * (MAX_CELL_LENGTH + 1), "text", f"at most {MAX_CELL_LENGTH} characters"),
        (None, "text", "a cell must be text"),
        ("1e9999999999999999999", "number", "is out of range for a number"),
    ],
)
def test_construction_problems_of_any_kind_are_cell_errors(cell, field_type, message):
    # Given a cell, a type or an operand that Python itself cannot handle
    # When parsed / Then it is still a CellSyntaxError, never another exception
    with pytest.raises(CellSyntaxError, match=message):
        parse_cell(cell, field_type)


def test_a_cell_of_the_maximum_length_is_accepted():
    # Given a text cell exactly at the limit / When parsed / Then it is an equality
    assert parse_cell("=" + "x" * (MAX_CELL_LENGTH - 1), "text").holds("x" * (MAX_CELL_LENGTH - 1))


@pytest.mark.parametrize(
    ("cell", "field_type", "description"),
    [
        ("<=10", "number", "is at most 10"),
        ("<10", "number", "is below 10"),
        (">=10", "number", "is at least 10"),
        (">10", "number", "is above 10"),
        ("10", "number", "is 10"),
        ("!=a", "text", "is not a"),
        ("in[a,b]", "text", "is one of a, b"),
        ("notIn[1,2]", "number", "is none of 1, 2"),
        ("range[22,33]", "number", "is at least 22 and at most 33"),
        ("range(22,33)", "number", "is above 22 and below 33"),
        ("!range[22,33]", "number", "is below 22 or above 33"),
        ("!range(22,33)", "number", "is at most 22 or at least 33"),
        ("yes", "boolean", "is true"),
        ("high", "choices", "includes high"),
        ("in=aaa", "array", "contains aaa"),
        ("notIn=aaa", "array", "does not contain aaa"),
        ("null", "date", "has no value"),
        ("2026-01-31", "date", "is 2026-01-31"),
    ],
)
def test_conditions_describe_themselves_for_the_audit_trail(cell, field_type, description):
    # Given a parsed cell / When described / Then it reads as plain words
    assert parse_cell(cell, field_type, CHOICES).describe() == description


def test_conditions_are_immutable():
    # Given a parsed condition / When something tries to change it / Then it refuses
    condition = parse_cell("<=10", "number")
    with pytest.raises(AttributeError):
        condition.operand = Decimal(99)
