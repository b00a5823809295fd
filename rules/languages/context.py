"""What an expression evaluates against: a data source, a clock and a time zone."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

__all__ = ["DataSource", "EvaluationContext", "StaticDataSource"]


class DataSource(Protocol):
    """Reads a data reference such as "submission.form1.field1" for one plan.

    Each method returns the value or None when there is none. Return dates and datetimes as
    `date`/`datetime` objects (not ISO text): date functions refuse text, as date-fns does.
    Values may be None, bool, int, float, Decimal, str, date, datetime, or lists of these.
    """

    def last(self, reference: str) -> Any: ...

    def first(self, reference: str) -> Any: ...

    def submission(self, reference: str) -> Any: ...


@dataclass(frozen=True)
class StaticDataSource:
    """A data source from plain mappings, for tests and the rules simulator."""

    last_values: Mapping[str, Any] = field(default_factory=dict)
    first_values: Mapping[str, Any] = field(default_factory=dict)
    submission_values: Mapping[str, Any] = field(default_factory=dict)

    def last(self, reference: str) -> Any:
        return self.last_values.get(reference)

    def first(self, reference: str) -> Any:
        return self.first_values.get(reference)

    def submission(self, reference: str) -> Any:
        return self.submission_values.get(reference)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EvaluationContext:
    """`clock` is injectable so tests can fix `now()`; dates are shown and built in `timezone`
    (new Date(y, m, d) is midnight there; dateFormat and differenceInDays use its wall clock)."""

    data: DataSource = field(default_factory=StaticDataSource)
    clock: Callable[[], datetime] = _utc_now
    timezone: tzinfo = UTC
