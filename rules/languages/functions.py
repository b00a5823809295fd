"""The functions an expression may call, as one table: name, arity, result type, implementation.

The compiler (rules/languages/expression_ast.py) reads the table to refuse unknown names and wrong
argument counts; the interpreter calls `implementation(context, arguments)`. Implementations
receive interpreter values (rules/languages/jsvalues.py) and raise only ExpressionRuntimeError.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.languages import dates
from rules.languages.context import EvaluationContext
from rules.languages.errors import ExpressionRuntimeError
from rules.languages.jsvalues import UNDEFINED, from_python, js_type, to_number, to_string

__all__ = ["FUNCTIONS", "NEW_DATE", "FunctionSpec"]

Implementation = Callable[[EvaluationContext, tuple[Any, ...]], Any]
# More arguments than min/max/dateFormat would ever be given; only bounds the table's "many".
MANY = 64


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_arguments: int
    max_arguments: int
    result_type: str  # "number" | "text" | "boolean" | "date" | "any"
    implementation: Implementation
    # The first argument is a data reference, written as a string literal so that the
    # references an expression reads are known when the rule is saved.
    reads_reference: bool = False
    # Index of the argument that must be an object literal of durations ({days: 3}).
    duration_argument: int | None = None
    # Index of a dateFormat pattern, checked at compile time when it is a literal.
    pattern_argument: int | None = None


def _run(action: Callable[[], Any]) -> Any:
    """Date helpers report problems as ValueError; here they become run-time errors."""
    try:
        return action()
    except ValueError as error:
        raise ExpressionRuntimeError(str(error)) from None


def _date(name: str, value: Any, ordinal: str = "first") -> datetime:
    if not isinstance(value, datetime):
        raise ExpressionRuntimeError(
            f"{name} needs a date as its {ordinal} argument, not {js_type(value)}"
        )
    return value


def _read(kind: str, as_text: bool) -> Implementation:
    def read(context: EvaluationContext, arguments: tuple[Any, ...]) -> Any:
        reference = arguments[0]
        try:
            raw = getattr(context.data, kind)(reference)
        except Exception as error:
            # The data source is the caller's code; whatever it raises is this rule's failure.
            message = f"reading {reference} failed: {type(error).__name__}"
            raise ExpressionRuntimeError(message) from error
        try:
            value = from_python(raw, context.timezone)
        except (TypeError, OverflowError, ValueError) as error:
            message = f"{reference} holds a value expressions cannot read ({error})"
            raise ExpressionRuntimeError(message) from None
        if not as_text:
            return value
        # The *Str functions feed text into forms: no value is empty text, not "null".
        return "" if value is None or value is UNDEFINED else to_string(value)

    return read


def _now(context: EvaluationContext, arguments: tuple[Any, ...]) -> datetime:
    try:
        return from_python(context.clock(), context.timezone)
    except Exception as error:
        raise ExpressionRuntimeError(f"the clock failed: {type(error).__name__}") from error


def _new_date(context: EvaluationContext, arguments: tuple[Any, ...]) -> datetime:
    if not arguments:
        return _now(context, arguments)
    if len(arguments) == 1:
        (value,) = arguments
        if isinstance(value, datetime):
            return value
        if isinstance(value, float | str):
            return _run(lambda: dates.date_from_value(value, context.timezone))
        raise ExpressionRuntimeError(f"new Date needs a number, text or date, not {js_type(value)}")
    parts = [to_number(value) for value in arguments]
    return _run(lambda: dates.date_from_parts(parts, context.timezone))


def _shift(name: str, sign: int) -> Implementation:
    def shift(context: EvaluationContext, arguments: tuple[Any, ...]) -> datetime:
        moment, durations = _date(name, arguments[0]), arguments[1]
        for unit, amount in durations.items():
            if not isinstance(amount, float):
                raise ExpressionRuntimeError(
                    f"{name}: {unit} must be a number, not {js_type(amount)}"
                )
        return _run(lambda: dates.add_duration(moment, durations, sign))

    return shift


def _difference(name: str, unit: str) -> Implementation:
    def difference(context: EvaluationContext, arguments: tuple[Any, ...]) -> float:
        later, earlier = _date(name, arguments[0]), _date(name, arguments[1], "second")
        return _run(lambda: dates.difference(unit, later, earlier))

    return difference


def _date_format(context: EvaluationContext, arguments: tuple[Any, ...]) -> str:
    moment, pattern = _date("dateFormat", arguments[0]), arguments[1]
    if not isinstance(pattern, str):
        raise ExpressionRuntimeError(
            f"dateFormat needs text as its pattern, not {js_type(pattern)}"
        )
    return _run(lambda: dates.format_date(moment, pattern))


def _extreme(pick: Callable[..., float]) -> Implementation:
    def extreme(context: EvaluationContext, arguments: tuple[Any, ...]) -> float:
        numbers = [to_number(value) for value in arguments]
        # Math.min/Math.max: any NaN makes the answer NaN.
        return math.nan if any(map(math.isnan, numbers)) else pick(numbers)

    return extreme


def js_power(base: float, exponent: float) -> float:
    """Math.pow: NaN where JavaScript says so, ±Infinity instead of Python's OverflowError."""
    if math.isnan(exponent) or (abs(base) == 1 and math.isinf(exponent)):
        return math.nan
    try:
        return math.pow(base, exponent)
    except OverflowError:
        odd_negative = base < 0 and exponent.is_integer() and exponent % 2 == 1
        return -math.inf if odd_negative else math.inf
    except ValueError:
        # A negative base with a fractional exponent, or 0 to a negative power.
        if base == 0:
            return -math.inf if math.copysign(1, base) < 0 and exponent % 2 == 1 else math.inf
        return math.nan


def _power(context: EvaluationContext, arguments: tuple[Any, ...]) -> float:
    return js_power(to_number(arguments[0]), to_number(arguments[1]))


_SPECS = [
    FunctionSpec("lastVal", 1, 1, "any", _read("last", False), reads_reference=True),
    FunctionSpec("lastStr", 1, 1, "text", _read("last", True), reads_reference=True),
    FunctionSpec("firstVal", 1, 1, "any", _read("first", False), reads_reference=True),
    FunctionSpec("firstStr", 1, 1, "text", _read("first", True), reads_reference=True),
    FunctionSpec("submissionVal", 1, 1, "any", _read("submission", False), reads_reference=True),
    FunctionSpec("submissionStr", 1, 1, "text", _read("submission", True), reads_reference=True),
    FunctionSpec("now", 0, 0, "date", _now),
    FunctionSpec("dateAdd", 2, 2, "date", _shift("dateAdd", 1), duration_argument=1),
    FunctionSpec("dateSubtract", 2, 2, "date", _shift("dateSubtract", -1), duration_argument=1),
    FunctionSpec("differenceInDays", 2, 2, "number", _difference("differenceInDays", "days")),
    FunctionSpec("differenceInHours", 2, 2, "number", _difference("differenceInHours", "hours")),
    FunctionSpec(
        "differenceInMinutes", 2, 2, "number", _difference("differenceInMinutes", "minutes")
    ),
    FunctionSpec("dateFormat", 2, 2, "text", _date_format, pattern_argument=1),
    FunctionSpec("min", 1, MANY, "number", _extreme(min)),
    FunctionSpec("max", 1, MANY, "number", _extreme(max)),
    FunctionSpec("power", 2, 2, "number", _power),
]
FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in _SPECS}
# `new Date(...)` is the only constructor; it is not callable without `new`.
NEW_DATE = FunctionSpec("new Date", 0, 7, "date", _new_date)
