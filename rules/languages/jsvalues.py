"""JavaScript value semantics for the expression interpreter: conversions, truthiness, equality.

Inside the interpreter a value is one of: None (null), UNDEFINED, bool, float (every number, as
in JavaScript), str, an aware datetime (a Date), or a tuple (an array read from data). Nothing
else is ever produced, so no Python object is reachable from an expression.

Deliberate departures from JavaScript, each because the JavaScript rule would surprise a content
manager: two Dates are equal when they are the same instant (JS compares object identity), two
arrays when their items are strictly equal, and a Date turns into ISO 8601 text, not
"Tue Jan 30 2024 ...".
"""

import math
import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

__all__ = [
    "UNDEFINED",
    "Undefined",
    "compare",
    "from_python",
    "js_type",
    "loose_equals",
    "strict_equals",
    "to_number",
    "to_primitive",
    "to_python",
    "to_string",
    "truthy",
]

# Integers up to 2**53 are exact in a float; larger integral results stay floats.
MAX_SAFE_INTEGER = 2**53
# Deepest list a data source may hand in (data is JSON; deeper nesting is not a form value).
MAX_DATA_DEPTH = 16
# What JavaScript's Number("...") accepts: decimal with sign, 0x/0o/0b, Infinity.
_NUMERIC_TEXT = re.compile(
    r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Infinity)|0[xX][0-9a-fA-F]+"
    r"|0[oO][0-7]+|0[bB][01]+"
)
# JavaScript's StrWhiteSpaceChar (the common ones): what Number() trims.
_JS_WHITESPACE = " \t\n\r\v\f\u00a0\ufeff\u2028\u2029"


class Undefined:
    """JavaScript's `undefined`: distinct from null for `===`, equal to it for `==`."""

    _instance: "Undefined | None" = None

    def __new__(cls) -> "Undefined":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = Undefined()


def js_type(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    return "array"


def integer_text_to_number(text: str) -> float:
    """0x / 0o / 0b text as a float; beyond float range it is Infinity, as in JavaScript."""
    try:
        return float(int(text[2:], {"x": 16, "o": 8, "b": 2}[text[1].lower()]))
    except OverflowError:
        return math.inf


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if value is UNDEFINED:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip(_JS_WHITESPACE)
        if not text:
            return 0.0
        if not _NUMERIC_TEXT.fullmatch(text):
            return math.nan
        if text[0] == "0" and len(text) > 2 and text[1] in "xXoObB":
            return integer_text_to_number(text)
        return float(text.replace("Infinity", "inf"))
    if isinstance(value, datetime):
        return value.timestamp() * 1000.0
    return to_number(to_string(value))


def number_to_string(number: float) -> str:
    """JavaScript's Number::toString: 3 not 3.0, 1e+21, 1.5e-7, 0.000001."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr gives the shortest digits that round-trip, as JavaScript does.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + int(exponent)  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"


def to_string(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_to_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    # An array joins its items with commas, null and undefined as empty text.
    return ",".join("" if item is None or item is UNDEFINED else to_string(item) for item in value)


def truthy(value: Any) -> bool:
    if value is None or value is UNDEFINED:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True  # Dates and arrays are objects, and objects are truthy.


def to_primitive(value: Any, hint: str = "default") -> Any:
    """Objects to primitives: a Date to its number for comparisons, else to text; arrays to text."""
    if isinstance(value, datetime):
        return to_number(value) if hint == "number" else to_string(value)
    if isinstance(value, tuple):
        return to_string(value)
    return value


def strict_equals(left: Any, right: Any) -> bool:
    """`===`: same type and same value (NaN is never equal, 0 equals -0)."""
    if js_type(left) != js_type(right):
        return False
    if isinstance(left, tuple):
        return len(left) == len(right) and all(map(strict_equals, left, right))
    return left == right


def loose_equals(left: Any, right: Any) -> bool:
    """`==`: JavaScript's IsLooselyEqual for primitives; objects become primitives first."""
    left_type, right_type = js_type(left), js_type(right)
    if left_type == right_type:
        return strict_equals(left, right)
    nullish = ("null", "undefined")
    if left_type in nullish or right_type in nullish:
        return left_type in nullish and right_type in nullish
    if left_type == "boolean":
        return loose_equals(to_number(left), right)
    if right_type == "boolean":
        return loose_equals(left, to_number(right))
    if left_type in ("date", "array"):
        return loose_equals(to_primitive(left), right)
    if right_type in ("date", "array"):
        return loose_equals(left, to_primitive(right))
    # number and string: compare as numbers.
    return to_number(left) == to_number(right)


def compare(operator: str, left: Any, right: Any) -> bool:
    """`<`, `<=`, `>`, `>=`: text with text by UTF-16 code units, anything else as numbers."""
    left, right = to_primitive(left, "number"), to_primitive(right, "number")
    if isinstance(left, str) and isinstance(right, str):
        # Big-endian UTF-16 bytes sort like JavaScript's code units.
        left_key, right_key = (
            left.encode("utf-16-be", "surrogatepass"),
            right.encode("utf-16-be", "surrogatepass"),
        )
        return _ORDER[operator](left_key, right_key)
    left_number, right_number = to_number(left), to_number(right)
    if math.isnan(left_number) or math.isnan(right_number):
        return False
    return _ORDER[operator](left_number, right_number)


_ORDER = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def from_python(value: Any, zone: tzinfo = UTC, depth: int = 0) -> Any:
    """A value handed in by a data source, as an interpreter value (see the module docstring).

    Raises TypeError for a value no JSON field holds; the interpreter reports it.
    """
    if value is None or value is UNDEFINED or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, Decimal):
        return math.nan if value.is_nan() else float(value)  # float() refuses a signaling NaN.
    if isinstance(value, float):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    if isinstance(value, list | tuple):
        if depth >= MAX_DATA_DEPTH:
            raise TypeError(f"a list nested deeper than {MAX_DATA_DEPTH} levels")
        return tuple(from_python(item, zone, depth + 1) for item in value)
    if isinstance(value, dict):
        return "[object Object]"  # What JavaScript's String({}) gives.
    raise TypeError(f"a value of type {type(value).__name__}")


def to_python(value: Any) -> Any:
    """An interpreter value as a caller wants it: None for null and undefined, 3 for 3.0, and
    None for NaN and ±Infinity (as JSON.stringify does); dates stay aware datetimes."""
    if value is UNDEFINED:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
            return int(value)
        return value
    if isinstance(value, tuple):
        return [to_python(item) for item in value]
    return value
