"""JavaScript conversions the interpreter relies on: number to text and text to number."""

import math

import pytest

from rules.languages.jsvalues import UNDEFINED, number_to_string, to_number, to_string, truthy


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (3.0, "3"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (-2.5, "-2.5"),
        (1e300, "1e+300"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
    ],
)
def test_numbers_turn_into_text_as_in_javascript(number, text):
    # Given a number / When turned into text / Then JavaScript's Number::toString
    assert number_to_string(number) == text


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("", 0.0),
        ("  12  ", 12.0),
        ("\t-1.5e2\n", -150.0),
        ("0x10", 16.0),
        ("0b11", 3.0),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        (None, 0.0),
        (True, 1.0),
        (("7",), 7.0),  # an array of one item reads as that item
        ((), 0.0),
    ],
)
def test_values_turn_into_numbers_as_in_javascript(value, number):
    # Given a value / When turned into a number / Then JavaScript's Number(value)
    assert to_number(value) == number


@pytest.mark.parametrize(
    "value", ["inf", "nan", "1_000", "12px", "-0x10", "1e", UNDEFINED, (1.0, 2.0)]
)
def test_what_javascript_cannot_read_as_a_number_is_nan(value):
    # Given text Python's float() would accept but JavaScript would not / Then NaN
    assert math.isnan(to_number(value))


def test_truthiness_and_text_of_the_special_values():
    # Given null, undefined and empty values / Then JavaScript's truthiness and text
    assert [truthy(value) for value in (None, UNDEFINED, 0.0, math.nan, "", "0", (), False)] == [
        False, False, False, False, False, True, True, False,
    ]  # fmt: skip
    assert (to_string(None), to_string(UNDEFINED), to_string((None, 1.0))) == (
        "null",
        "undefined",
        ",1",
    )
