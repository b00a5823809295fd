"""Fuzzing the expression language: compile raises only ExpressionSyntaxError, evaluate only
ExpressionRuntimeError, whatever the input, the data or the time zone."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.languages.expressions import (
    EvaluationContext,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    StaticDataSource,
    compile_expression,
)

# The grammar's tokens, plus near misses, so that random sequences often almost parse.
TOKENS = [
    "1", "0", "-0", "0.5", ".5", "1e308", "1e-7", "1e999", "0x1f", "0o17", "0b101", "0x", "08",
    '"a"', '""', '"2024-01-31"', '"yyyy"', '"\\u00e9"', '"\\ud83d"', '"\\x4"', '"', "'",
    "true", "false", "null", "undefined", "NaN", "Infinity", "x",
    "+", "-", "*", "/", "!", "||", "&&", "?", ":", "==", "!=", "===", "!==", "<", "<=", ">", ">=",
    "(", ")", "{", "}", ",", ".", "=", "%", "[", "]",
    "//c\n", "/*c*/", "/*", "*/", " ", "\n",
    'lastVal("a.b")', 'lastStr("a.b")', 'firstVal("a.c")', 'submissionStr("a.b")', "lastVal",
    "now()", "new", "Date", "dateAdd", "dateSubtract", "differenceInDays", "differenceInHours",
    "differenceInMinutes", "dateFormat", "min", "max", "power", "eval", "__import__",
    "days", "months", "years", "hours", "minutes", "seconds", "weeks",
]  # fmt: skip

DATA_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(max_size=6),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Pacific/Kiritimati")])),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
ZONES = st.sampled_from([UTC, ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")])
CLOCKS = st.sampled_from(
    [
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ]
)
RESULT_TYPES = (type(None), bool, int, float, str, datetime, list)


def _compile_or_none(source: str):
    try:
        return compile_expression(source)
    except ExpressionSyntaxError as error:
        assert error.line >= 1 and error.column >= 1
        return None


def _evaluate(expression, values, zone, now) -> None:
    context = EvaluationContext(
        data=StaticDataSource(last_values=values, first_values=values, submission_values=values),
        clock=lambda: now,
        timezone=zone,
    )
    try:
        result = expression.evaluate(context)
    except ExpressionRuntimeError:
        return
    assert isinstance(result, RESULT_TYPES)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_syntax_errors(source):
    # Given any text / When compiled / Then it compiles or raises ExpressionSyntaxError
    _compile_or_none(source)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(TOKENS), max_size=24),
    st.dictionaries(st.sampled_from(["a.b", "a.c"]), DATA_VALUES),
    ZONES,
    CLOCKS,
)
def test_token_soup_raises_only_syntax_errors_and_runtime_errors(tokens, values, zone, now):
    # Given a sequence of the grammar's tokens / When compiled and, if it compiles, evaluated
    # Then the only exceptions are ExpressionSyntaxError and ExpressionRuntimeError
    expression = _compile_or_none(" ".join(tokens))
    if expression is not None:
        _evaluate(expression, values, zone, now)


LEAVES = st.sampled_from(
    [
        "1", "0", "-0", "0.5", "1e308", "1e-7", "1e400", "0x1f", '"a"', '"12"', '""', '" 1 "',
        "true", "false", "null", "undefined", "now()", "new Date(2024, 0, 31)",
        "new Date(9999, 11, 31)", "new Date(1, 0, 1)", 'lastVal("a.b")', 'lastVal("a.c")',
        'lastStr("a.b")', 'firstVal("a.c")', 'submissionVal("a.b")',
    ]
)  # fmt: skip
BINARY = ["+", "-", "*", "/", "==", "!=", "===", "!==", "<", "<=", ">", ">=", "||", "&&"]
UNITS = ["years", "months", "weeks", "days", "hours", "minutes", "seconds"]


def _extend(children):
    pairs = st.tuples(children, children)
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({' '.join(t)})"),
        st.tuples(st.sampled_from(["!", "-", "+"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        st.tuples(
            st.sampled_from(["dateAdd", "dateSubtract"]), children, st.sampled_from(UNITS), children
        ).map(lambda t: f"{t[0]}({t[1]}, {{{t[2]}: {t[3]}}})"),
        st.tuples(
            st.sampled_from(
                ["differenceInDays", "differenceInHours", "differenceInMinutes", "power", "min"]
            ),
            pairs,
        ).map(lambda t: f"{t[0]}({t[1][0]}, {t[1][1]})"),
        st.tuples(children, st.sampled_from(['"yyyy-MM-dd HH:mm"', 'lastStr("a.b")', "1"])).map(
            lambda t: f"dateFormat({t[0]}, {t[1]})"
        ),
        st.lists(children, min_size=1, max_size=7).map(lambda xs: f"new Date({', '.join(xs)})"),
    )


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.recursive(LEAVES, _extend, max_leaves=14),
    st.dictionaries(st.sampled_from(["a.b", "a.c"]), DATA_VALUES),
    ZONES,
    CLOCKS,
)
def test_random_well_formed_expressions_raise_only_runtime_errors(source, values, zone, now):
    # Given a random well-formed expression over every operator and function
    expression = _compile_or_none(source)
    # When evaluated against random data, zones and clocks (including the calendar's ends)
    # Then it produces a documented value type or raises ExpressionRuntimeError, nothing else
    if expression is not None:
        assert expression.infer_type() in ("number", "text", "boolean", "date", "any")
        _evaluate(expression, values, zone, now)


@settings(max_examples=500, deadline=None)
@given(st.recursive(LEAVES, _extend, max_leaves=10))
def test_the_inferred_type_matches_the_value(source):
    # Given an expression whose type is not "any" / When evaluated without data
    expression = _compile_or_none(source)
    if expression is None or expression.infer_type() == "any":
        return
    context = EvaluationContext(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    try:
        value = expression.evaluate(context)
    except ExpressionRuntimeError:
        return
    # Then the value has that type (numbers may leave as None: NaN and Infinity)
    expected = {
        "number": (int, float, type(None)),
        "text": (str,),
        "boolean": (bool,),
        "date": (datetime,),
    }[expression.infer_type()]
    assert isinstance(value, expected) and not (
        expression.infer_type() == "number" and isinstance(value, bool)
    )


def test_numbers_and_dates_from_python_are_accepted_as_data():
    # Given data of every Python type a JSON field or a model field holds
    values = {"a.b": Decimal("2.5"), "a.c": date(2026, 1, 31)}
    source = 'lastVal("a.b") * 2 + differenceInDays(lastVal("a.c"), new Date(2026, 0, 1))'
    expression = compile_expression(source)
    # When evaluated / Then they behave as numbers and dates
    assert expression.evaluate(EvaluationContext(data=StaticDataSource(last_values=values))) == 35
