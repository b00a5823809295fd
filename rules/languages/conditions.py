"""What a parsed decision-table cell is: a small immutable condition with `holds(value)`.

Conditions never raise at run time: a value of the wrong shape (text in a number column, a
missing value) simply does not satisfy any condition except `null`. Values arrive as the JSON
shapes of templates/values.py (dates as ISO text) or as Python objects (int, Decimal, date).
"""

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

__all__ = [
    "AnyValue",
    "Comparison",
    "Condition",
    "Contains",
    "Membership",
    "NoValue",
    "Range",
    "Selected",
    "coerce_value",
    "format_operand",
]

# A number as a cell or a JSON text may write it: no "nan", "inf" or "1_000" as float() allows.
NUMBER_PATTERN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Enough of ISO 8601 for "YYYY-MM-DD", with an optional time and offset for datetimes.
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
BOOLEAN_WORDS = {"true": True, "yes": True, "false": False, "no": False}


class Condition(Protocol):
    def holds(self, value: Any) -> bool: ...

    def describe(self) -> str: ...


def to_number(value: Any) -> Decimal | None:
    """A finite Decimal for a number (or numeric text), else None. bool is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr gives the shortest text for the float, so 0.1 compares equal to a cell's 0.1.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and NUMBER_PATTERN.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern only lets valid text through
            return None
    return None


def to_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and DATE_PATTERN.match(value.strip()):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def to_datetime(value: Any) -> datetime | None:
    """An aware datetime; naive datetimes and plain dates are taken as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and DATETIME_PATTERN.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def to_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def to_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return BOOLEAN_WORDS.get(value.strip().lower())
    return None


def to_selection(value: Any) -> frozenset[str] | None:
    """The selected values of a choices column: a list, or one value on its own."""
    if isinstance(value, list | tuple | set | frozenset):
        texts = [to_text(item) for item in value]
        return frozenset(text for text in texts if text is not None)
    text = to_text(value)
    return None if text is None else frozenset({text})


def to_array(value: Any) -> tuple[Any, ...] | None:
    return tuple(value) if isinstance(value, list | tuple | set | frozenset) else None


# How a run-time value is read for each column type; None means "cannot be compared".
COERCERS: dict[str, Callable[[Any], Any]] = {
    "text": to_text,
    "number": to_number,
    "boolean": to_boolean,
    "choice": to_text,
    "choices": to_selection,
    "array": to_array,
    "date": to_date,
    "datetime": to_datetime,
}


def coerce_value(field_type: str, value: Any) -> Any:
    return COERCERS[field_type](value)


def has_no_value(value: Any) -> bool:
    # A blank form field is stored as "" or [] (templates/values.py treats both as "no value").
    if value is None or value == [] or value == ():
        return True
    return isinstance(value, str) and not value.strip()


def format_operand(operand: Any) -> str:
    if isinstance(operand, bool):
        return "true" if operand else "false"
    if isinstance(operand, date | datetime):
        return operand.isoformat()
    return str(operand)


COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
COMPARISON_WORDS = {
    "=": "is",
    "!=": "is not",
    "<": "is below",
    "<=": "is at most",
    ">": "is above",
    ">=": "is at least",
}


@dataclass(frozen=True, slots=True)
class AnyValue:
    """An empty cell: "don't care", holds for every value."""

    def holds(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "any value"


@dataclass(frozen=True, slots=True)
class NoValue:
    """`null`: there is no value (None, blank text or an empty list)."""

    def holds(self, value: Any) -> bool:
        return has_no_value(value)

    def describe(self) -> str:
        return "has no value"


@dataclass(frozen=True, slots=True)
class Comparison:
    """`=`, `!=`, `<`, `<=`, `>`, `>=` against one operand of the column's type."""

    field_type: str
    operator: str
    operand: Any

    def holds(self, value: Any) -> bool:
        return self.holds_coerced(coerce_value(self.field_type, value))

    def holds_coerced(self, coerced: Any) -> bool:
        """holds() for a value already read by coerce_value(self.field_type, ...): a table's
        cells share their column's value, so the engine reads it once."""
        # A missing or unreadable value satisfies nothing, not even `!=` (only `null` does).
        return coerced is not None and COMPARATORS[self.operator](coerced, self.operand)

    def describe(self) -> str:
        return f"{COMPARISON_WORDS[self.operator]} {format_operand(self.operand)}"


@dataclass(frozen=True, slots=True)
class Membership:
    """`in[a,b]` and `notIn[a,b]`."""

    field_type: str
    operands: tuple[Any, ...]
    negated: bool

    def holds(self, value: Any) -> bool:
        return self.holds_coerced(coerce_value(self.field_type, value))

    def holds_coerced(self, coerced: Any) -> bool:
        if coerced is None:
            return False
        return (coerced in self.operands) != self.negated

    def describe(self) -> str:
        words = "is none of" if self.negated else "is one of"
        return f"{words} {', '.join(format_operand(item) for item in self.operands)}"


@dataclass(frozen=True, slots=True)
class Range:
    """`range` / `!range` with `[` `]` including and `(` `)` excluding each bound."""

    field_type: str
    low: Any
    high: Any
    low_inclusive: bool
    high_inclusive: bool
    negated: bool

    def holds(self, value: Any) -> bool:
        return self.holds_coerced(coerce_value(self.field_type, value))

    def holds_coerced(self, coerced: Any) -> bool:
        if coerced is None:
            return False
        above_low = coerced >= self.low if self.low_inclusive else coerced > self.low
        below_high = coerced <= self.high if self.high_inclusive else coerced < self.high
        return (above_low and below_high) != self.negated

    def describe(self) -> str:
        low, high = format_operand(self.low), format_operand(self.high)
        if self.negated:
            below = "is below" if self.low_inclusive else "is at most"
            above = "above" if self.high_inclusive else "at least"
            return f"{below} {low} or {above} {high}"
        from_low = "is at least" if self.low_inclusive else "is above"
        to_high = "at most" if self.high_inclusive else "below"
        return f"{from_low} {low} and {to_high} {high}"


@dataclass(frozen=True, slots=True)
class Selected:
    """`=a` in a choices (multiple selection) column: a is among the selected values."""

    choice: str

    def holds(self, value: Any) -> bool:
        selection = to_selection(value)
        return selection is not None and self.choice in selection

    def describe(self) -> str:
        return f"includes {self.choice}"


@dataclass(frozen=True, slots=True)
class Contains:
    """`in=aaa` / `notIn=aaa` in an array column: the array contains (or lacks) aaa."""

    item: str
    negated: bool

    def holds(self, value: Any) -> bool:
        items = to_array(value)
        if items is None:
            return False
        return any(_same_item(element, self.item) for element in items) != self.negated

    def describe(self) -> str:
        return f"{'does not contain' if self.negated else 'contains'} {self.item}"


def _same_item(element: Any, item: str) -> bool:
    """An array element equals the cell's text, numerically when both are numbers (3 == 3.0)."""
    text = to_text(element)
    if text is None:
        return False
    if text == item:
        return True
    number, wanted = to_number(element), to_number(item)
    return number is not None and wanted is not None and number == wanted
