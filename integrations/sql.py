"""The raw SQL of the integrations app: only what the ORM cannot say, each statement with its why.

The inbound statements run for every REST request and bus batch (integrations/inbound/); the
webhook one after every batch of attempts (integrations/webhooks/attempts.py). The store and
the plan lookups are prepared once per connection (healix/prepared.py).
"""

from integrations.models import InboundEvent
from plans.models import Plan, PlanStatus
from templates.models import PlanTemplate

__all__ = [
    "COUNT_DUPLICATE_SQL",
    "OPEN_PLANS_OF_USERS_SQL",
    "PLANS_BY_ID_SQL",
    "PLAN_BY_ID_SQL",
    "STORE_SQL",
    "UPDATE_AFTER_ATTEMPTS_SQL",
]

TABLE = InboundEvent._meta.db_table

# One row per distinct data of the batch, with `copies` = how many messages carried it. A new
# row is accepted with the other copies already counted; an existing accepted row only has its
# count raised (INSERT ... SELECT ... ON CONFLICT DO UPDATE RETURNING: no ORM equivalent).
# The batch travels as one JSON document: the driver then sends one string
# instead of adapting thousands of values (its list adapter cost more than the insert), and the
# statement text never changes, so the server reuses its plan. Rows go in key order, which is
# the order their locks are taken in: two consumers counting the same data cannot deadlock.
STORE_SQL = f"""
INSERT INTO {TABLE} AS t (id, organization_id, subject, source, status, payload, raw_body,
    payload_hash, errors, plan_ids, duplicate_count, last_seen_at, received_at, trace_id,
    stream_sequence)
SELECT v.id, v.organization_id, v.subject, %s, 'accepted', v.payload, '', v.payload_hash, '[]',
    v.plan_ids, v.copies - 1, CASE WHEN v.copies > 1 THEN now() END, now(), v.trace_id,
    v.stream_sequence
FROM jsonb_to_recordset(%s::jsonb) AS v(id uuid, organization_id bigint, subject text,
    payload jsonb, payload_hash text, plan_ids uuid[], trace_id text, stream_sequence bigint,
    copies int)
ORDER BY v.organization_id, v.subject, v.payload_hash
ON CONFLICT (organization_id, subject, payload_hash) WHERE status = 'accepted'
DO UPDATE SET duplicate_count = t.duplicate_count + EXCLUDED.duplicate_count + 1,
    last_seen_at = now()
RETURNING t.id, t.organization_id, t.subject, t.payload_hash
"""

# A later copy counted on the first, when it arrives alone (a re-run): an UPDATE ...
# RETURNING, which the ORM's update() cannot answer with the row's id.
COUNT_DUPLICATE_SQL = f"""
UPDATE {TABLE} SET duplicate_count = duplicate_count + 1, last_seen_at = now()
WHERE organization_id = %s AND subject = %s AND payload_hash = %s AND status = 'accepted'
RETURNING id
"""


PLAN = Plan._meta.db_table

TEMPLATE = PlanTemplate._meta.db_table

# The plans a batch of messages names, with their template's name, in one round trip: the
# hot path of ingestion, where the ORM's query building cost more than the query.
_PLANS = f"""
SELECT p.id, p.template_id, p.user_id, t.name
FROM {PLAN} p JOIN {TEMPLATE} t ON t.id = p.template_id
WHERE p.organization_id = %s AND p.id {{match}}
"""
PLANS_BY_ID_SQL = _PLANS.format(match="= ANY(%s)")
# One plan (every REST POST): an equality is planned on the (organization, id) key whatever
# the statistics say, and its parameter is one UUID rather than a list for the driver to
# adapt (about 60 us less a lookup among recently updated plans, 2026-12-05).
PLAN_BY_ID_SQL = _PLANS.format(match="= %s")

# Every open plan of the users a batch names, for messages routed by userId (the same reason).
OPEN_PLANS_OF_USERS_SQL = f"""
SELECT p.id, p.template_id, p.user_id FROM {PLAN} p
WHERE p.organization_id = %s AND p.user_id = ANY(%s) AND p.status = '{PlanStatus.OPEN}'
ORDER BY p.created_at, p.id
"""


# One statement for a whole batch (bulk_update's CASE per row and field costs more than the
# requests): the new values travel as arrays, unnested side by side.
UPDATE_AFTER_ATTEMPTS_SQL = """
UPDATE {table} AS d SET
    attempt_count = v.attempt_count, round_attempts = v.round_attempts, leased_until = NULL,
    last_status_code = v.last_status_code, last_error = v.last_error,
    next_attempt_at = v.next_attempt_at, status = v.status, completed_at = v.completed_at
FROM (
    SELECT * FROM unnest(
        %s::uuid[], %s::integer[], %s::integer[], %s::smallint[], %s::text[],
        %s::timestamptz[], %s::varchar[], %s::timestamptz[]
    ) AS v(id, attempt_count, round_attempts, last_status_code, last_error,
           next_attempt_at, status, completed_at)
) AS v
WHERE d.id = v.id
"""
