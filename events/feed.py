"""The event log as a feed a partner polls over HTTP, with no gaps and no repeats.

Outbox ids come from a sequence taken *before* commit, so with concurrent writers a lower id
can commit after a higher one: a reader that remembered "the highest id I saw" would skip it.
The feed therefore orders events by (transaction_id, id), where `transaction_id` is the
PostgreSQL id of the writing transaction, and only ever shows events below the *visible
horizon*: the oldest transaction still running (`pg_snapshot_xmin`). Every transaction below
the horizon has finished, so nothing can ever be inserted at a position the feed has already
passed; a transaction that has not yet taken an id will take one at or above the horizon.

The price: an event is held back while an older transaction is still open anywhere on the
server, usually for milliseconds. A long open transaction delays the feed (never reorders it).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Self

from events.sql import FEED_SQL
from healix.models import Organization
from healix.prepared import prepared_cursor

__all__ = [
    "MAX_PAGE",
    "FeedFilters",
    "FeedPage",
    "FeedPosition",
    "InvalidPosition",
    "read_feed",
]

# Events one response holds at most: a page of envelopes stays well under a megabyte or two.
MAX_PAGE = 500


class InvalidPosition(ValueError):
    pass


class FeedPosition(NamedTuple):
    """A place in the feed; its text form is the `after` cursor partners send back. Ordered
    as (transaction_id, id). A named tuple: a page makes one per event, and a frozen dataclass
    costs twice as much to make."""

    transaction_id: int
    id: int

    def __str__(self) -> str:
        return f"{self.transaction_id}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Self:
        transaction, dot, event = text.partition(".")
        if not (dot and transaction.isascii() and event.isascii()):
            raise InvalidPosition(text)
        if not (transaction.isdigit() and event.isdigit()):
            raise InvalidPosition(text)
        if len(transaction) > 19 or len(event) > 19:  # beyond a bigint
            raise InvalidPosition(text)
        return cls(int(transaction), int(event))


START = FeedPosition(0, 0)


@dataclass(frozen=True)
class FeedPage:
    # (position, envelope JSON text exactly as published)
    events: list[tuple[FeedPosition, str]]
    # Where the next poll continues: after the last event, or at the horizon once caught up.
    next_position: FeedPosition
    # False when the page was full: poll again at once.
    caught_up: bool


@dataclass(frozen=True)
class FeedFilters:
    event_type: str | None = None
    plan_id: str | None = None
    trace_id: str | None = None
    since: datetime | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """Extra conditions of the feed query, and their parameters."""
        conditions, params = [], {}
        for column, name in (
            ("event_type", "event_type"),
            ("plan_id", "plan_id"),
            ("trace_id", "trace_id"),
        ):
            if value := getattr(self, name):
                conditions.append(f"AND {column} = %({name})s")
                params[name] = value
        if self.since:
            conditions.append("AND occurred_at >= %(since)s")
            params["since"] = self.since
        return " ".join(conditions), params


def read_feed(
    organization: Organization,
    after: FeedPosition | None = None,
    limit: int = 100,
    filters: FeedFilters | None = None,
) -> FeedPage:
    """The organization's events after `after`, oldest first, at most `limit` of them."""
    after = after or START
    conditions, params = (filters or FeedFilters()).sql()
    params |= {
        "organization": organization.pk,
        "after_transaction": after.transaction_id,
        "after_id": after.id,
        "limit": limit,
    }
    # Prepared: every poll runs it, and planning it cost PostgreSQL as much as running it.
    # One statement per combination of filters (at most 16).
    with prepared_cursor() as cursor:
        cursor.execute(FEED_SQL.format(filters=conditions), params, prepare=True)
        rows = cursor.fetchall()
    horizon = rows[0][0]
    events = [
        (FeedPosition(transaction_id, pk), payload)
        for _, transaction_id, pk, payload in rows
        if pk is not None
    ]
    if len(events) == limit:
        return FeedPage(events, events[-1][0], caught_up=False)
    # Everything below the horizon has been read: continue from there (never backwards).
    return FeedPage(events, max(after, FeedPosition(horizon, 0)), caught_up=True)
