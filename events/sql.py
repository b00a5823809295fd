"""The raw SQL of the events app: only what the ORM cannot say, each statement with its why.

The relay (events/relay.py) runs on psycopg's async connection of its own, outside Django's
ORM altogether: its statements are plain SQL by necessity. The feed's is one statement for a
snapshot's horizon and a page.
"""

from events.models import OutboxEvent, OutboxPending, OutboxPublication
from events.outbox import NOTIFY_CHANNEL

__all__ = [
    "CLAIM_SQL",
    "FAILED_SQL",
    "FEED_SQL",
    "LISTEN_SQL",
    "MARK_SQL",
]

TABLE = OutboxEvent._meta.db_table
PENDING = OutboxPending._meta.db_table
PUBLICATION = OutboxPublication._meta.db_table

# The relay's wake-up call: emit() notifies NOTIFY_CHANNEL on commit (events/outbox.py).
LISTEN_SQL = f"LISTEN {NOTIFY_CHANNEL}"
# The next pending events in id order, minus those published but not yet marked: the first
# `batch` pending ids (their primary key, in order), then each one's event looked up by the
# outbox's key. The lookup is LATERAL with its own LIMIT, which the planner cannot fold into a
# join: as a join (flat, or with the LIMIT inside), the queue's churning statistics made it
# hash the whole outbox for the few rows a trickle of events leaves pending (6.5 ms a claim
# with 6,000 outbox rows, against 0.06 ms; 0.45 s with 200,000 rows as one flat join).
CLAIM_SQL = f"""
SELECT p.id, o.subject, o.event_id, o.trace_id, o.payload
FROM (
    SELECT id FROM {PENDING} WHERE id <> ALL(%(exclude)s::bigint[]) ORDER BY id LIMIT %(batch)s
) p
CROSS JOIN LATERAL (
    SELECT subject, event_id, trace_id, payload FROM {TABLE} WHERE id = p.id LIMIT 1
) o
ORDER BY p.id
"""
# The mark: pending rows become publication rows, in one statement; the outbox row is only
# read (for the metrics: organization, type, commit-to-ack lag). A mark retried after its
# commit (the answer lost with the connection) finds no pending row and changes nothing, so
# the publish time and the published counter stay right. A publication row already there (a
# pending row restored by hand) is kept rather than wedging the queue on a key violation.
MARK_SQL = f"""
WITH done AS (DELETE FROM {PENDING} WHERE id = ANY(%(ids)s) RETURNING id, attempts),
published AS (
    INSERT INTO {PUBLICATION} (id, published_at, attempts)
    SELECT id, now(), attempts + 1 FROM done
    ON CONFLICT (id) DO NOTHING
)
SELECT o.organization_id, o.event_type, extract(epoch FROM now() - o.occurred_at)
FROM done JOIN {TABLE} o ON o.id = done.id
"""
# A failed publish counted on its pending rows, with the error kept for the admin.
FAILED_SQL = f"""
UPDATE {PENDING} SET attempts = attempts + 1, last_error = %(error)s WHERE id = ANY(%(ids)s)
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
