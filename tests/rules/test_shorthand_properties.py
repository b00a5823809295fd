"""Property tests of the shorthand parser: ranges against a plain reference, and fuzzed cells."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.languages.shorthand import FIELD_TYPES, CellSyntaxError, parse_cell

BRACKETS = st.tuples(st.sampled_from("[("), st.sampled_from("])"))


def reference_range(low, high, opening, closing, negated, value):
    """The interval as a set definition: {x | low <(=) x and x <(=) high}, or its complement."""
    after_low = low < value or (opening == "[" and value == low)
    before_high = value < high or (closing == "]" and value == high)
    inside = after_low and before_high
    return not inside if negated else inside


def _cell(low, high, opening, closing, negated) -> str:
    return f"{'!' if negated else ''}range{opening}{low},{high}{closing}"


@st.composite
def ordered_bounds(draw, elements):
    first, second = draw(elements), draw(elements)
    if draw(st.booleans()):
        second = first  # equal bounds are a case of their own: [5,5] is {5}, (5,5] is empty
    return min(first, second), max(first, second)


numbers = st.one_of(
    st.integers(-40, 40),
    st.decimals(min_value=-40, max_value=40, places=2, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=600, deadline=None)
@given(ordered_bounds(numbers), BRACKETS, st.booleans(), st.data())
def test_number_ranges_agree_with_the_reference(bounds, brackets, negated, data):
    # Given a range cell with any bracket combination, and a value on, between or off its bounds
    low, high = bounds
    opening, closing = brackets
    value = data.draw(st.one_of(st.sampled_from([low, high]), numbers), label="value")
    condition = parse_cell(_cell(low, high, opening, closing, negated), "number")
    # When the value is checked, as a number and as its JSON text
    # Then the condition agrees with the set definition of the interval
    expected = reference_range(Decimal(low), Decimal(high), opening, closing, negated, value)
    assert condition.holds(value) is expected
    assert condition.holds(str(value)) is expected


@settings(max_examples=300, deadline=None)
@given(
    ordered_bounds(st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 3, 1))),
    BRACKETS,
    st.booleans(),
    st.data(),
)
def test_date_ranges_agree_with_the_reference(bounds, brackets, negated, data):
    # Given a date range cell and a date near it
    low, high = bounds
    opening, closing = brackets
    nearby = st.dates(min_value=date(1999, 12, 1), max_value=date(2000, 4, 1))
    value = data.draw(st.one_of(st.sampled_from([low, high]), nearby), label="value")
    condition = parse_cell(_cell(low, high, opening, closing, negated), "date")
    # When checked as a date, as ISO text and as a datetime on that day
    # Then every reading agrees with the reference
    expected = reference_range(low, high, opening, closing, negated, value)
    assert condition.holds(value) is expected
    assert condition.holds(value.isoformat()) is expected
    assert condition.holds(datetime(value.year, value.month, value.day, 12, tzinfo=UTC)) is expected


@settings(max_examples=200, deadline=None)
@given(st.integers(-40, 40), st.integers(-40, 40), BRACKETS, st.booleans())
def test_a_range_whose_bounds_are_reversed_is_refused(first, second, brackets, negated):
    # Given bounds in the wrong order
    low, high = max(first, second), min(first, second)
    if low == high:
        return
    # When the cell is parsed / Then it is refused at save time, not silently empty
    with pytest.raises(CellSyntaxError, match="is above the upper bound"):
        parse_cell(_cell(low, high, *brackets, negated), "number")


@settings(max_examples=300, deadline=None)
@given(ordered_bounds(st.integers(-40, 40)), BRACKETS, st.integers(-40, 40))
def test_not_range_is_the_complement_of_range(bounds, brackets, value):
    # Given the same bounds and brackets with and without `!`
    inside = parse_cell(_cell(*bounds, *brackets, False), "number")
    outside = parse_cell(_cell(*bounds, *brackets, True), "number")
    # When a number is checked / Then exactly one of them holds
    assert inside.holds(value) != outside.holds(value)


CELL_TOKENS = [
    "null", "NULL", "<=", "<", ">=", ">", "=", "!=", "!", "in", "notIn", "in=", "notIn=", "range",
    "!range", "[", "]", "(", ")", ",", "1", "-2.5", "1e3", "1e99999999999999999999", ".", "abc",
    "true", "Yes", "low", "2026-01-31", "2026-02-30", "2026-01-31T09:30:00Z", "T25:00", " ", "\n",
    "\\", "é", "\x00",
]  # fmt: skip
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _parse_and_check(cell: str, field_type: str, value) -> None:
    try:
        condition = parse_cell(cell, field_type, ("low", "high"))
    except CellSyntaxError as error:
        assert error.field_type == field_type
        assert 1 <= error.position <= len(cell) + 1
        return
    # A cell that parses can be checked against anything without raising.
    assert isinstance(condition.holds(value), bool)
    assert isinstance(condition.describe(), str)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.sampled_from(FIELD_TYPES), ANY_VALUE)
def test_arbitrary_text_never_raises_anything_but_a_cell_error(cell, field_type, value):
    # Given any text in a cell of any type / When parsed and checked
    # Then the only exception is CellSyntaxError, with a position inside the cell
    _parse_and_check(cell, field_type, value)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(CELL_TOKENS), max_size=12),
    st.sampled_from(FIELD_TYPES),
    ANY_VALUE,
)
def test_token_soup_never_raises_anything_but_a_cell_error(tokens, field_type, value):
    # Given cells assembled from the grammar's own tokens (much likelier to almost parse)
    # When parsed and checked / Then the only exception is CellSyntaxError
    _parse_and_check("".join(tokens), field_type, value)
