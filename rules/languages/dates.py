"""Date arithmetic for expressions, following JavaScript's Date and date-fns where they agree
with what a content manager expects. Every date here is an aware datetime in the context's zone.

Failures raise ValueError with a message; the function table turns it into a run-time error.
Month and year arithmetic uses dateutil's relativedelta (Jan 31 + 1 month = Feb 29/28, as
date-fns' addMonths does).
"""

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo

from dateutil.relativedelta import relativedelta

__all__ = [
    "DURATION_UNITS",
    "add_duration",
    "check_pattern",
    "date_from_parts",
    "date_from_value",
    "difference",
    "format_date",
]

DURATION_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_OUT_OF_RANGE = "the date is out of range (years 1 to 9999)"
_MICROSECONDS = {"days": 86_400_000_000, "hours": 3_600_000_000, "minutes": 60_000_000}

# date-fns tokens supported by dateFormat; anything else made of letters is refused, as
# date-fns refuses unescaped latin letters. 'quoted text' is copied, '' is a quote.
_FIELDS = {
    "yyyy": lambda d: f"{d.year:04d}",
    "yy": lambda d: f"{d.year % 100:02d}",
    "MM": lambda d: f"{d.month:02d}",
    "M": lambda d: str(d.month),
    "dd": lambda d: f"{d.day:02d}",
    "d": lambda d: str(d.day),
    "HH": lambda d: f"{d.hour:02d}",
    "H": lambda d: str(d.hour),
    "mm": lambda d: f"{d.minute:02d}",
    "m": lambda d: str(d.minute),
    "ss": lambda d: f"{d.second:02d}",
    "s": lambda d: str(d.second),
}
_PATTERN_PART = re.compile(r"'(?:[^']|'')*'|''|([A-Za-z])\1*|[^A-Za-z']+|'")


def _whole(amount: float, what: str) -> int:
    """date-fns truncates amounts toward zero; NaN and Infinity are not dates."""
    if not math.isfinite(amount):
        raise ValueError(f"{what} must be a finite number")
    return math.trunc(amount)


def date_from_parts(parts: list[float], zone: tzinfo) -> datetime:
    """new Date(year, monthIndex[, day, hours, minutes, seconds, ms]) in the context's zone.

    As in JavaScript: the month counts from 0, values overflow into the next unit (month 12 is
    January of the next year, day 0 the last day of the previous month), and years 0-99 mean
    1900-1999.
    """
    given = [_whole(value, "every part of new Date") for value in parts]
    year, month, day, hours, minutes, seconds, millis = given + [0, 0, 1, 0, 0, 0, 0][len(given) :]
    if 0 <= year <= 99:
        year += 1900
    months = year * 12 + month
    try:
        start = datetime(months // 12, months % 12 + 1, 1)
        wall = start + timedelta(
            days=day - 1, hours=hours, minutes=minutes, seconds=seconds, milliseconds=millis
        )
    except (OverflowError, ValueError):
        raise ValueError(_OUT_OF_RANGE) from None
    return wall.replace(tzinfo=zone)


def date_from_value(value: float | str, zone: tzinfo) -> datetime:
    """new Date(milliseconds since 1970) or new Date("ISO 8601 text").

    As in JavaScript, date-only text is midnight UTC and date-time text without an offset is
    in the context's zone.
    """
    try:
        if isinstance(value, float):
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
                milliseconds=_whole(value, "milliseconds")
            )
            return moment.astimezone(zone)
        text = value.strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", text):
            raise ValueError
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC if len(text) == 10 else zone)
        return parsed.astimezone(zone)
    except OverflowError:
        raise ValueError(_OUT_OF_RANGE) from None
    except ValueError:
        shown = value[:40] if isinstance(value, str) else value
        raise ValueError(f'new Date cannot read "{shown}"; write ISO 8601 text') from None


def add_duration(moment: datetime, amounts: dict[str, float], sign: int) -> datetime:
    """dateAdd / dateSubtract: years, months, weeks and days move the wall clock (a day is a
    calendar day across a daylight-saving change), then hours, minutes and seconds move the
    instant, as date-fns' add and sub do."""
    whole = {unit: sign * _whole(amount, f"{unit}") for unit, amount in amounts.items()}
    zone = moment.tzinfo
    try:
        calendar = relativedelta(
            years=whole.get("years", 0),
            months=whole.get("months", 0),
            days=7 * whole.get("weeks", 0) + whole.get("days", 0),
        )
        wall = (moment.replace(tzinfo=None) + calendar).replace(tzinfo=zone)
        clock = timedelta(
            hours=whole.get("hours", 0),
            minutes=whole.get("minutes", 0),
            seconds=whole.get("seconds", 0),
        )
        return (wall.astimezone(UTC) + clock).astimezone(zone)
    except (OverflowError, ValueError):
        raise ValueError(_OUT_OF_RANGE) from None


def difference(unit: str, later: datetime, earlier: datetime) -> float:
    """differenceInDays/Hours/Minutes: whole units, truncated toward zero (date-fns' default).

    Days are counted on the wall clock (a daylight-saving day is still one day); hours and
    minutes on the instants.
    """
    if unit == "days":
        delta = later.replace(tzinfo=None) - earlier.replace(tzinfo=None)
    else:
        # Python subtracts two datetimes of the same zone on the wall clock; UTC avoids that.
        try:
            delta = later.astimezone(UTC) - earlier.astimezone(UTC)
        except OverflowError:
            raise ValueError(_OUT_OF_RANGE) from None
    microseconds = delta // timedelta(microseconds=1)
    whole = abs(microseconds) // _MICROSECONDS[unit]
    return float(whole if microseconds >= 0 else -whole)


def check_pattern(pattern: str) -> None:
    """Refuses a dateFormat pattern with a token outside the supported subset."""
    for match in _PATTERN_PART.finditer(pattern):
        part = match.group(0)
        if part == "'":
            raise ValueError("dateFormat's pattern has an unclosed quote")
        if match.group(1) and part not in _FIELDS:
            supported = ", ".join(_FIELDS)
            raise ValueError(
                f"dateFormat does not support `{part}`; use {supported}, or 'quote' letters"
            )


def format_date(moment: datetime, pattern: str) -> str:
    check_pattern(pattern)
    pieces = []
    for match in _PATTERN_PART.finditer(pattern):
        part = match.group(0)
        if match.group(1):
            pieces.append(_FIELDS[part](moment))
        elif part.startswith("'"):
            pieces.append("'" if part == "''" else part[1:-1].replace("''", "'"))
        else:
            pieces.append(part)
    return "".join(pieces)
