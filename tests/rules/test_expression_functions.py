"""The functions of the expression language: data access, dates and math."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rules.languages.expressions import (
    EvaluationContext,
    ExpressionRuntimeError,
    StaticDataSource,
    compile_expression,
)

NOW = datetime(2026, 3, 7, 15, 4, 5, tzinfo=UTC)


def run(source: str, zone=UTC, **data):
    context = EvaluationContext(data=StaticDataSource(**data), clock=lambda: NOW, timezone=zone)
    return compile_expression(source).evaluate(context)


class RecordingSource:
    """A data source that answers with the method's name, to show which one was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _answer(self, method: str, reference: str) -> str:
        self.calls.append((method, reference))
        return f"{method}:{reference}"

    def last(self, reference: str) -> str:
        return self._answer("last", reference)

    def first(self, reference: str) -> str:
        return self._answer("first", reference)

    def submission(self, reference: str) -> str:
        return self._answer("submission", reference)


@pytest.mark.parametrize(
    ("function", "method"),
    [
        ("lastVal", "last"),
        ("lastStr", "last"),
        ("firstVal", "first"),
        ("firstStr", "first"),
        ("submissionVal", "submission"),
        ("submissionStr", "submission"),
    ],
)
def test_data_functions_read_through_the_data_source(function, method):
    # Given a data source that records its calls
    source = RecordingSource()
    reference = "integration.aiEngineTimeSlot.timeSlot"
    # When a data function is evaluated
    value = compile_expression(f'{function}("{reference}")').evaluate(
        EvaluationContext(data=source)
    )
    # Then it asked the matching method for that reference, once
    assert source.calls == [(method, reference)]
    assert value == f"{method}:{reference}"


@pytest.mark.parametrize(
    ("stored", "as_value", "as_text"),
    [
        (None, None, ""),  # no value: null, and empty text for forms
        (3, 3, "3"),
        (2.5, 2.5, "2.5"),
        (Decimal("7.10"), 7.1, "7.1"),
        (True, True, "true"),
        ("10:30", "10:30", "10:30"),
        (["a", "b"], ["a", "b"], "a,b"),
        ([1, None, 2], [1, None, 2], "1,,2"),
        (date(2026, 1, 31), datetime(2026, 1, 31, tzinfo=UTC), "2026-01-31T00:00:00+00:00"),
        ({"nested": 1}, "[object Object]", "[object Object]"),
        (10**400, None, "Infinity"),  # beyond float range, as JavaScript reads it
    ],
)
def test_val_returns_the_value_and_str_returns_text(stored, as_value, as_text):
    # Given a stored value / When read with lastVal and lastStr
    values = {"plan.x": stored}
    # Then Val gives the value and Str its JavaScript text (no value is empty text)
    assert run('lastVal("plan.x")', last_values=values) == as_value
    assert run('lastStr("plan.x")', last_values=values) == as_text


def test_text_from_data_concatenates_and_numbers_add():
    # Given a number and a text in the data / When combined with + / Then JavaScript's rules
    data = {"last_values": {"plan.n": 2, "plan.t": "2"}}
    assert run('lastVal("plan.n") + 1', **data) == 3
    assert run('lastVal("plan.t") + 1', **data) == "21"
    assert run('lastVal("plan.t") == lastVal("plan.n")', **data) is True
    assert run('lastVal("plan.t") === lastVal("plan.n")', **data) is False


def test_a_failing_data_source_is_a_runtime_error_at_the_call():
    # Given a data source that raises
    class Broken:
        def last(self, reference):
            raise ConnectionError("database went away")

    expression = compile_expression('1 +\n  lastVal("plan.title")')
    # When evaluated / Then the failure is an ExpressionRuntimeError pointing at the call
    with pytest.raises(ExpressionRuntimeError) as caught:
        expression.evaluate(EvaluationContext(data=Broken()))
    assert caught.value.message == "reading plan.title failed: ConnectionError"
    assert (caught.value.line, caught.value.column) == (2, 3)
    assert isinstance(caught.value.__cause__, ConnectionError)


def test_a_value_expressions_cannot_read_is_a_runtime_error():
    # Given a data source that hands in a Python object / When read
    # Then it is refused: no Python object is reachable from an expression
    with pytest.raises(ExpressionRuntimeError, match="holds a value expressions cannot read"):
        run('lastVal("plan.x")', last_values={"plan.x": object()})


# --- dates ---


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("new Date(2026, 0, 31)", datetime(2026, 1, 31, tzinfo=UTC)),  # month counts from 0
        ("new Date(2026, 11)", datetime(2026, 12, 1, tzinfo=UTC)),
        ("new Date(2026, 12, 1)", datetime(2027, 1, 1, tzinfo=UTC)),  # overflow into the year
        ("new Date(2026, 2, 0)", datetime(2026, 2, 28, tzinfo=UTC)),  # day 0: previous month
        ("new Date(2026, 0, 1, 9, 30, 15, 500)", datetime(2026, 1, 1, 9, 30, 15, 500000, UTC)),
        ("new Date(2026, 0, 1, 25)", datetime(2026, 1, 2, 1, tzinfo=UTC)),
        ("new Date(99, 0, 1)", datetime(1999, 1, 1, tzinfo=UTC)),  # JavaScript's 2-digit years
        ('new Date("2026", "1", "3")', datetime(2026, 2, 3, tzinfo=UTC)),
        ("new Date(2026.9, 0.5, 1.7)", datetime(2026, 1, 1, tzinfo=UTC)),  # truncated
        ("new Date(0)", datetime(1970, 1, 1, tzinfo=UTC)),  # milliseconds since 1970
        ("new Date(86400000)", datetime(1970, 1, 2, tzinfo=UTC)),
        ('new Date("2026-01-31")', datetime(2026, 1, 31, tzinfo=UTC)),
        ('new Date("2026-01-31T09:30:00+01:00")', datetime(2026, 1, 31, 8, 30, tzinfo=UTC)),
        ("new Date()", NOW),
        ("new Date(now())", NOW),
        ("now()", NOW),
    ],
)
def test_new_date_and_now(source, expected):
    # Given a date built as in JavaScript / When evaluated / Then it is that instant
    assert run(source) == expected


def test_dates_are_built_and_shown_in_the_context_time_zone():
    # Given a context in New York
    zone = ZoneInfo("America/New_York")
    # When a date is built from parts / Then it is midnight there
    built = run("new Date(2026, 0, 31)", zone=zone)
    assert built == datetime(2026, 1, 31, tzinfo=zone)
    assert built.utcoffset() == timedelta(hours=-5)
    # And now() is shown on that wall clock
    assert run('dateFormat(now(), "yyyy-MM-dd HH:mm")', zone=zone) == "2026-03-07 10:04"
    # And ISO text without an offset is in that zone, date-only text is UTC (as in JavaScript)
    assert run('new Date("2026-01-31T09:00")', zone=zone) == datetime(2026, 1, 31, 9, tzinfo=zone)
    assert run('new Date("2026-01-31")', zone=zone) == datetime(2026, 1, 31, tzinfo=UTC)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("duration", "added", "subtracted"),
    [
        ("{years: 1}", at(2027, 3, 7, 15, 4, 5), at(2025, 3, 7, 15, 4, 5)),
        ("{months: 1}", at(2026, 4, 7, 15, 4, 5), at(2026, 2, 7, 15, 4, 5)),
        ("{weeks: 2}", at(2026, 3, 21, 15, 4, 5), at(2026, 2, 21, 15, 4, 5)),
        ("{days: 3}", at(2026, 3, 10, 15, 4, 5), at(2026, 3, 4, 15, 4, 5)),
        ("{hours: 10}", at(2026, 3, 8, 1, 4, 5), at(2026, 3, 7, 5, 4, 5)),
        ("{minutes: 56}", at(2026, 3, 7, 16, 0, 5), at(2026, 3, 7, 14, 8, 5)),
        ("{seconds: 55}", at(2026, 3, 7, 15, 5, 0), at(2026, 3, 7, 15, 3, 10)),
        ("{days: 1, hours: 1}", at(2026, 3, 8, 16, 4, 5), at(2026, 3, 6, 14, 4, 5)),
        ('{"days": 1.9}', at(2026, 3, 8, 15, 4, 5), at(2026, 3, 6, 15, 4, 5)),  # truncated
        ("{days: -1}", at(2026, 3, 6, 15, 4, 5), at(2026, 3, 8, 15, 4, 5)),
        ("{days: 1 + 1,}", at(2026, 3, 9, 15, 4, 5), at(2026, 3, 5, 15, 4, 5)),
        ("{}", NOW, NOW),
    ],
)
def test_date_add_and_subtract_every_unit(duration, added, subtracted):
    # Given now() and a duration / When added and subtracted / Then date-fns' answers
    assert run(f"dateAdd(now(), {duration})") == added
    assert run(f"dateSubtract(now(), {duration})") == subtracted


def test_adding_months_keeps_to_the_end_of_shorter_months():
    # Given January 31st / When one month is added / Then it is the last day of February
    assert run("dateAdd(new Date(2024, 0, 31), {months: 1})") == datetime(2024, 2, 29, tzinfo=UTC)
    assert run("dateAdd(new Date(2025, 0, 31), {months: 1})") == datetime(2025, 2, 28, tzinfo=UTC)
    assert run("dateSubtract(new Date(2024, 2, 31), {months: 1})") == at(2024, 2, 29)


def test_days_are_calendar_days_and_hours_are_real_hours_across_daylight_saving():
    # Given the night New York moves its clocks forward (2026-03-08, 02:00 -> 03:00)
    zone = ZoneInfo("America/New_York")
    start = "new Date(2026, 2, 7, 12)"
    # When a day is added / Then it is the same wall-clock time the next day (23 real hours)
    assert run(f"dateAdd({start}, {{days: 1}})", zone=zone) == datetime(2026, 3, 8, 12, tzinfo=zone)
    # When 24 hours are added / Then the wall clock shows one hour more
    one_hour_more = datetime(2026, 3, 8, 13, tzinfo=zone)
    assert run(f"dateAdd({start}, {{hours: 24}})", zone=zone) == one_hour_more
    # And the differences count a calendar day but 23 hours
    later = "new Date(2026, 2, 8, 12)"
    assert run(f"differenceInDays({later}, {start})", zone=zone) == 1
    assert run(f"differenceInHours({later}, {start})", zone=zone) == 23


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("differenceInDays(new Date(2026, 0, 31), new Date(2026, 0, 1))", 30),
        ("differenceInDays(new Date(2026, 0, 1), new Date(2026, 0, 31))", -30),
        ("differenceInDays(new Date(2026, 0, 2, 23), new Date(2026, 0, 1, 0))", 1),  # whole days
        ("differenceInDays(new Date(2026, 0, 1, 0), new Date(2026, 0, 2, 23))", -1),  # toward 0
        ("differenceInHours(new Date(2026, 0, 1, 5, 59), new Date(2026, 0, 1))", 5),
        ("differenceInHours(new Date(2026, 0, 1), new Date(2026, 0, 1, 5, 59))", -5),
        ("differenceInMinutes(new Date(2026, 0, 1, 1, 30, 59), new Date(2026, 0, 1))", 90),
        ("differenceInMinutes(now(), now())", 0),
    ],
)
def test_differences_count_whole_units_truncated_toward_zero(source, expected):
    # Given two dates / When their difference is taken / Then whole units, as date-fns
    assert run(source) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd", "2026-03-07"),
        ("dd/MM/yy HH:mm:ss", "07/03/26 15:04:05"),
        ("d.M.yyyy H:m:s", "7.3.2026 15:4:5"),
        ("'at' HH:mm", "at 15:04"),
        ("HH 'o''clock'", "15 o'clock"),
        ("''yyyy''", "'2026'"),
        ("", ""),
        ("yyyy/MM/dd - HH.mm", "2026/03/07 - 15.04"),
    ],
)
def test_date_format_supports_the_documented_tokens(pattern, expected):
    # Given now() / When formatted with a pattern / Then the tokens are replaced
    assert run(f'dateFormat(now(), "{pattern}")') == expected


def test_a_pattern_computed_at_run_time_is_checked_at_run_time():
    # Given a pattern from data / When it has an unsupported token / Then a run-time error
    with pytest.raises(ExpressionRuntimeError, match="does not support `EEEE`"):
        run('dateFormat(now(), lastStr("plan.pattern"))', last_values={"plan.pattern": "EEEE"})
    assert run('dateFormat(now(), lastStr("plan.p"))', last_values={"plan.p": "yyyy"}) == "2026"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('dateAdd("2026-01-31", {days: 1})', "needs a date as its first argument, not string"),
        ("dateSubtract(3, {days: 1})", "needs a date as its first argument, not number"),
        ('dateAdd(now(), {days: "1"})', "dateAdd: days must be a number, not string"),
        ("dateAdd(now(), {days: 1 / 0})", "days must be a finite number"),
        ("dateAdd(now(), {years: 10000})", "the date is out of range"),
        ("dateSubtract(now(), {days: 1e300})", "the date is out of range"),
        ("differenceInDays(now(), null)", "needs a date as its second argument, not null"),
        ("differenceInHours(undefined, now())", "as its first argument, not undefined"),
        ('dateFormat("today", "yyyy")', "dateFormat needs a date as its first argument"),
        ("dateFormat(now(), 5)", "dateFormat needs text as its pattern, not number"),
        ("new Date(true)", "new Date needs a number, text or date, not boolean"),
        ('new Date("31/01/2026")', 'new Date cannot read "31/01/2026"'),
        ('new Date("2026-02-30")', "new Date cannot read"),
        ("new Date(1e300)", "the date is out of range"),
        ("new Date(2026, 0 / 0)", "every part of new Date must be a finite number"),
        ("new Date(100000, 0)", "the date is out of range"),
    ],
)
def test_date_functions_given_the_wrong_things_fail_with_a_runtime_error(source, message):
    # Given a date function with an argument it cannot use / When evaluated
    # Then an ExpressionRuntimeError says why, pointing at the call
    with pytest.raises(ExpressionRuntimeError) as caught:
        run(source)
    assert message in caught.value.message
    assert caught.value.line == 1 and caught.value.column >= 1


def test_dates_compare_and_subtract_as_instants():
    # Given two dates / When compared / Then as instants (milliseconds)
    assert run("new Date(2026, 0, 2) > new Date(2026, 0, 1)") is True
    assert run("new Date(2026, 0, 1) == new Date(2026, 0, 1)") is True
    assert run("new Date(2026, 0, 1) - new Date(2025, 11, 31)") == 86_400_000
    # And + turns a date into ISO text, as a Date turns into text in JavaScript
    assert run('"on " + new Date(2026, 0, 1)') == "on 2026-01-01T00:00:00+00:00"


# --- math ---


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("min(5)", 5),
        ('max("7", 2)', 7),
        ("min(1, null)", 0),
        ('max(1, "x")', None),  # NaN, as Math.max
        ("power(2, 10)", 1024),
        ("power(9, 0.5)", 3),
        ("power(2, -1)", 0.5),
        ("power(-8, 1 / 3)", None),  # NaN
        ("power(10, 400)", None),  # Infinity
        ("power(-10, 401) < 0", True),  # -Infinity
        ("power(0, -1) > 1e308", True),
        ("power(1, 1 / 0)", None),  # NaN in JavaScript, 1 in Python
        ("power(0 / 0, 0)", 1),
    ],
)
def test_math_functions(source, expected):
    # Given a math function / When evaluated / Then Math.min, Math.max and Math.pow's answers
    assert run(source) == expected
