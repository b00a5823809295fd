"""The raw SQL of the events app: only what the ORM cannot say, each statement with its why.

The relay (events/relay.py) runs on psycopg's async connection of its own, outside Django's
ORM altogether: its statements are plain SQL by necessity. The feed's is one statement for a
snapshot's horizon and a page.
"""

from events.models import OutboxEvent
from events.outbox import NOTIFY_CHANNEL

__all__ = [
    "CLAIM_SQL",
    "FAILED_SQL",
    "FEED_SQL",
    "LISTEN_SQL",
    "MARK_SQL",
]

TABLE = OutboxEvent._meta.db_table

# The relay's wake-up call: emit() notifies NOTIFY_CHANNEL on commit (events/outbox.py).
LISTEN_SQL = f"LISTEN {NOTIFY_CHANNEL}"
# The next unpublished rows in id order, minus those published but not yet marked.
CLAIM_SQL = f"""
SELECT id, subject, event_id, trace_id, payload FROM {TABLE}
WHERE published_at IS NULL AND id <> ALL(%(exclude)s::bigint[])
ORDER BY id
LIMIT %(batch)s
"""
# Only rows not yet marked: a mark retried after its commit (the answer lost with the
# connection) changes nothing, so the publish time and the published counter stay right.
MARK_SQL = f"""
UPDATE {TABLE}
SET published_at = now(), attempts = attempts + 1, last_error = ''
WHERE id = ANY(%(ids)s) AND published_at IS NULL
RETURNING organization_id, event_type, extract(epoch FROM published_at - occurred_at)
"""
# A failed publish counted on its rows, with the error kept for the admin.
FAILED_SQL = f"""
UPDATE {TABLE} SET attempts = attempts + 1, last_error = %(error)s WHERE id = ANY(%(ids)s)
"""

# Read by the feed (events/feed.py) for GET /api/v1/events/. One statement and one round trip: the
# horizon and the page, read in the same snapshot. The row comparison (transaction_id, id) > (...)
# is a range scan of the outbox_feed index.
FEED_SQL = f"""
WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
SELECT horizon.xmin, page.transaction_id, page.id, page.payload
FROM horizon LEFT JOIN LATERAL (
    SELECT transaction_id, id, payload
    FROM {OutboxEvent._meta.db_table}
    WHERE organization_id = %(organization)s
      AND transaction_id < horizon.xmin
      AND (transaction_id, id) > (%(after_transaction)s, %(after_id)s)
      {{filters}}
    ORDER BY transaction_id, id
    LIMIT %(limit)s
) page ON true
"""
