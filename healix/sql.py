"""The raw SQL of the healix app: only what the ORM cannot say, each statement with its why.

Every REST request runs KEY_SQL; the throttling statements count requests and failed key
checks (healix/api/throttling.py holds the counting rules). The key check and the failure
count are prepared once per connection (healix/prepared.py).
"""

from healix.models import ApiAuthFailureWindow, ApiRateWindow, Organization, OrganizationAPIKey

__all__ = [
    "COUNT_FAILURE_SQL",
    "COUNT_SQL",
    "IDEMPOTENCY_LOCK_SQL",
    "KEY_SQL",
    "PING_SQL",
    "PRUNE_LOCK_TIMEOUT_SQL",
    "PURGE_FAILURES_SQL",
]

# A round trip to the database for /readyz: the ORM has no query that needs no table.
PING_SQL = "SELECT 1"
# A pruning batch (healix/retention.py) gives up rather than queue for a table lock (a
# migration's): it would hold up every insert queued behind it. The ORM has no SET.
PRUNE_LOCK_TIMEOUT_SQL = "SET LOCAL lock_timeout = '2s'"
# A session-level advisory lock, tried for: one active process of a kind (healix/leader.py).
ADVISORY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s)"
# One request per (organization, Idempotency-Key) at a time, until the transaction ends: a
# transaction-level advisory lock, which the ORM has no word for.
IDEMPOTENCY_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

# A request counted in its key's one-row window: an upsert whose answer is the new count
# (the ORM has no INSERT ... ON CONFLICT DO UPDATE ... RETURNING).
_UPSERT = f"""
INSERT INTO {ApiRateWindow._meta.db_table} AS w (api_key_id, window_start, requests)
{{source}}
ON CONFLICT (api_key_id) DO UPDATE SET
    requests = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.requests + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING requests
"""
COUNT_SQL = _UPSERT.format(source="VALUES (%(key)s, %(window)s, 1)")
# The same count as part of the authentication statement (healix/api/auth.py), whose CTE
# `found` holds the key's row.
COUNT_FOUND_SQL = _UPSERT.format(source="SELECT id, %(window)s, 1 FROM found")


_FAILURES = ApiAuthFailureWindow._meta.db_table
# One failed check of `client` with `prefix`. A prefix that names no key counts under the
# address alone (prefix ''): made-up prefixes buy no new attempts, and add no rows.
COUNT_FAILURE_SQL = f"""
INSERT INTO {_FAILURES} AS w (client, prefix, window_start, attempts)
SELECT %(client)s,
       CASE WHEN EXISTS (
           SELECT 1 FROM {OrganizationAPIKey._meta.db_table} WHERE prefix = %(prefix)s
       ) THEN %(prefix)s ELSE '' END,
       %(window)s, 1
ON CONFLICT (client, prefix) DO UPDATE SET
    attempts = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.attempts + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start
RETURNING attempts
"""
# Rows of windows that are over; SKIP LOCKED: concurrent failures never wait on each other.
PURGE_FAILURES_SQL = f"""
DELETE FROM {_FAILURES} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM {_FAILURES} WHERE window_start < %(window)s
    LIMIT %(batch)s FOR UPDATE SKIP LOCKED
))
"""

# The key, its organization and its throttling count, in one statement (a CTE with an upsert,
# which the ORM cannot say): every request pays for
# it, so one round trip instead of two (healix/api/throttling.py keeps the counting rules). The
# secret is checked in the statement too (its hash must match), so only a verified request is
# counted: guesses with a key's prefix never spend its budget. Comparing hashes in SQL rather
# than in constant time is safe: the caller chooses what is hashed, not the hash, so timing
# tells nothing about a secret. Keys are hashed with the library's SHA-512 hasher (every key
# here was made with it; a key of an older hasher would never match). Whether the key's last
# use is due to be recorded comes back as a boolean rather than the timestamp: Django's loader
# parses each timestamp in Python.
KEY_SQL = f"""
WITH found AS (
    SELECT k.id, k.name, k.expiry_date, k.scopes, k.user_id,
           k.last_used_at IS NULL OR k.last_used_at <= %(use_noted_before)s AS use_to_note,
           o.id AS org_id, o.slug, o.name AS org_name
    FROM {OrganizationAPIKey._meta.db_table} k
    JOIN {Organization._meta.db_table} o ON o.id = k.organization_id
    WHERE k.prefix = %(prefix)s AND k.hashed_key = %(hashed_key)s AND NOT k.revoked
), counted AS (
    {COUNT_FOUND_SQL}
)
SELECT found.*, (SELECT requests FROM counted) FROM found
"""
