"""healix/strict_json.py alone: what it accepts at its limits, and the sentence for each thing
it refuses (the REST, inbound, admin and template import tests see the same sentences)."""

import pytest

from healix.strict_json import MAX_DEPTH, MAX_SAFE_INTEGER, StrictJSONError, loads, nul_path


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "text, value",
    [
        (nested(MAX_DEPTH), nested_list(MAX_DEPTH)),
        (f"[{MAX_SAFE_INTEGER}, -{MAX_SAFE_INTEGER}]", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        ('"\\\\ud800"', "\\ud800"),  # an escaped backslash, then text
        (b'{"a": "\xc3\xa9"}', {"a": "é"}),
        ('{"a": "x\\u0000y"}', {"a": "x\x00y"}),  # JSON; whether it is stored is nul_path's
    ],
    ids=["64 levels", "±(2^53 - 1)", "largest double", "pair", "backslash", "UTF-8", "NUL"],
)
def test_strict_json_is_read_as_json(text, value):
    assert loads(text) == value


@pytest.mark.parametrize(
    "text, reason",
    [
        (nested(MAX_DEPTH + 1), "nested deeper than 64 levels"),
        (nested(5000), "nested deeper than 64 levels"),
        ('{"a": {"b": 1, "b": 2}}', "the key 'b' appears more than once in an object"),
        ("[NaN]", "NaN is not JSON"),
        ("[-Infinity]", "-Infinity is not JSON"),
        (
            f"[{MAX_SAFE_INTEGER + 1}]",
            "the integer 9007199254740992 is beyond ±(2^53 - 1), the integers JSON carries exactly",
        ),
        ("[" + "9" * 30 + "]", "the integer 999999999999999999999999… (30 digits) is beyond"),
        ("[" + "9" * 5000 + "]", "an integer of more than 4300 digits is beyond ±(2^53 - 1)"),
        ("[1e400]", "a number is too large for a double"),
        ('{"\\udc00": 1}', "a string holds a lone surrogate"),
        ("\ud800", "a string holds a lone surrogate"),
        (b"\xff", "the bytes are not UTF-8: invalid start byte at byte 0"),
        ("{oops", "Expecting property name enclosed in double quotes: line 1 column 2"),
    ],
    ids=[
        "65 levels",
        "5,000 levels",
        "repeated key",
        "NaN",
        "-Infinity",
        "2^53",
        "30 digits",
        "5,000 digits",
        "1e400",
        "escaped lone surrogate",
        "lone surrogate",
        "not UTF-8",
        "malformed",
    ],
)
def test_what_is_not_strict_json_is_refused_with_its_reason(text, reason):
    with pytest.raises(StrictJSONError) as refused:
        loads(text)
    assert str(refused.value).startswith(reason)


def test_nul_path_names_the_first_key_or_string_holding_nul():
    assert nul_path({"a": [1, {"b": "x\x00"}]}) == ("a", "1", "b")
    assert nul_path({"a\x00": 1}) == ("a\x00",)
    assert nul_path("\x00") == ()
    assert nul_path({"a": ["x", 1.5, None, True]}) is None
