"""How long each kind of record is kept (healix/retention.py, docs/operations.md#retention).
healix/settings.py takes every name of __all__. Read from the environment as healix/settings.py
is. A period of 0 keeps that kind for ever (not the idempotency records'). Periods are floats,
so a test or the soak run can ask for minutes (0.001 days is 86 s)."""

import environ
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "HEALIX_RETENTION_BATCH_SIZE",
    "HEALIX_RETENTION_DELIVERY_DAYS",
    "HEALIX_RETENTION_EVALUATION_DAYS",
    "HEALIX_RETENTION_IDEMPOTENCY_HOURS",
    "HEALIX_RETENTION_INBOUND_HASH_DAYS",
    "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS",
    "HEALIX_RETENTION_OUTBOX_DAYS",
    "HEALIX_RETENTION_PAUSE_SECONDS",
    "HEALIX_RETENTION_PORTAL_SESSION_DAYS",
    "HEALIX_RETENTION_RUN_SECONDS",
    "HEALIX_RETENTION_SWEEP_SECONDS",
]

env = environ.Env()

# Published outbox rows (unpublished ones are never pruned): the REST events feed and the
# admin reach this far back; JetStream keeps its own copy for HEALIX_EVENTS_MAX_AGE_SECONDS.
HEALIX_RETENTION_OUTBOX_DAYS = env.float("HEALIX_RETENTION_OUTBOX_DAYS", default=30)
# Accepted inbound events lose their payload (the rules are done with them), rejected events
# and unroutable messages go entirely.
HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS = env.float(
    "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS", default=30
)
# First message only holds this long: an accepted event's row, with its hash, is kept this
# long after it arrived, so a copy sent within it is still counted as a duplicate.
HEALIX_RETENTION_INBOUND_HASH_DAYS = env.float("HEALIX_RETENTION_INBOUND_HASH_DAYS", default=90)
# Finished webhook deliveries (succeeded or failed) with every attempt; pending ones stay.
HEALIX_RETENTION_DELIVERY_DAYS = env.float("HEALIX_RETENTION_DELIVERY_DAYS", default=90)
# Rule evaluations (the audit trail), except the record that a time-elapsed row already fired
# for an open plan: without it the row would fire again.
HEALIX_RETENTION_EVALUATION_DAYS = env.float("HEALIX_RETENTION_EVALUATION_DAYS", default=30)
# Idempotency-Key records: also how long a retried request is answered from its record, so
# it cannot be 0.
HEALIX_RETENTION_IDEMPOTENCY_HOURS = env.float("HEALIX_RETENTION_IDEMPOTENCY_HOURS", default=24)
# Partner portal sessions (magic links), counted from when they ended: who was let in, by
# whom and until when, kept as long as the deliveries they could act on.
HEALIX_RETENTION_PORTAL_SESSION_DAYS = env.float("HEALIX_RETENTION_PORTAL_SESSION_DAYS", default=90)

# Beat prunes this often. Each batch is its own short transaction that skips rows other
# transactions hold, then pauses, so inserts never wait behind it; a run stops after
# HEALIX_RETENTION_RUN_SECONDS and the next one carries on.
HEALIX_RETENTION_SWEEP_SECONDS = env.float("HEALIX_RETENTION_SWEEP_SECONDS", default=300)
HEALIX_RETENTION_BATCH_SIZE = env.int("HEALIX_RETENTION_BATCH_SIZE", default=1000)
HEALIX_RETENTION_PAUSE_SECONDS = env.float("HEALIX_RETENTION_PAUSE_SECONDS", default=0.05)
HEALIX_RETENTION_RUN_SECONDS = env.float("HEALIX_RETENTION_RUN_SECONDS", default=240)

if HEALIX_RETENTION_IDEMPOTENCY_HOURS <= 0:
    raise ImproperlyConfigured("HEALIX_RETENTION_IDEMPOTENCY_HOURS must be above 0.")
if 0 < HEALIX_RETENTION_INBOUND_HASH_DAYS < HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS:
    raise ImproperlyConfigured(
        "HEALIX_RETENTION_INBOUND_HASH_DAYS must be at least "
        "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS: an accepted event's hash outlives its payload."
    )
