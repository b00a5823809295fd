"""Inbound integration events (integrations/): the streams, the bus consumer, the limits of a
payload and of a REST batch. healix/settings.py takes every name of __all__.

Read from the environment as healix/settings.py is.
"""

import environ

__all__ = [
    "HEALIX_INBOUND_BATCH",
    "HEALIX_INBOUND_BATCH_MAX_BYTES",
    "HEALIX_INBOUND_BATCH_MAX_ITEMS",
    "HEALIX_INBOUND_CONSUMER",
    "HEALIX_INBOUND_MAX_AGE_SECONDS",
    "HEALIX_INBOUND_MAX_BYTES",
    "HEALIX_INBOUND_REFRESH_SECONDS",
    "HEALIX_INBOUND_REPLICAS",
    "HEALIX_INBOUND_STREAM",
    "HEALIX_INBOUND_WORKERS",
]

env = environ.Env()

# Each organization's stream of what partners publish (healix.<orgId>.inbound.<subject>) is
# named <this>_<orgId> (bus/topology.py).
HEALIX_INBOUND_STREAM = env.str("HEALIX_INBOUND_STREAM", default="HEALIX_INBOUND")
# How long the stream keeps inbound messages: long enough to replay after a long outage.
HEALIX_INBOUND_MAX_AGE_SECONDS = env.int("HEALIX_INBOUND_MAX_AGE_SECONDS", default=7 * 24 * 3600)
# Copies of the inbound stream in a NATS cluster; 1 on a single server, 3 in production.
HEALIX_INBOUND_REPLICAS = env.int("HEALIX_INBOUND_REPLICAS", default=1)
# The durable consumer's name: every consume_bus process shares it, so they split the work.
HEALIX_INBOUND_CONSUMER = env.str("HEALIX_INBOUND_CONSUMER", default="healix-inbound")
# Messages fetched and committed together: one commit per batch is what makes thousands per
# second possible; small enough that a redelivered batch is cheap.
HEALIX_INBOUND_BATCH = env.int("HEALIX_INBOUND_BATCH", default=500)
# Batches of different organizations one consume_bus ingests at once (one database connection
# each): an organization's backlog occupies one, never the others' (fair_consumer.py).
HEALIX_INBOUND_WORKERS = env.int("HEALIX_INBOUND_WORKERS", default=4)
# Seconds between consume_bus's looks for new organizations, whose streams it then creates.
HEALIX_INBOUND_REFRESH_SECONDS = env.float("HEALIX_INBOUND_REFRESH_SECONDS", default=5.0)
# Largest payload accepted (REST and NATS); integration payloads are small records, so 256 KiB
# is generous while keeping one message's parsing and storage cheap.
HEALIX_INBOUND_MAX_BYTES = env.int("HEALIX_INBOUND_MAX_BYTES", default=256 * 1024)
# Events one POST /api/v1/inbound/<subject>/batch/ may carry: the bus's batch, committed as
# the bus commits one (one transaction, a few hundred milliseconds at most).
HEALIX_INBOUND_BATCH_MAX_ITEMS = env.int("HEALIX_INBOUND_BATCH_MAX_ITEMS", default=500)
# Largest body of that batch POST (instead of HEALIX_API_MAX_BODY_BYTES): 500 events of 8 KiB
# each, many times an integration record's size; a batch of big payloads is split in several.
HEALIX_INBOUND_BATCH_MAX_BYTES = env.int("HEALIX_INBOUND_BATCH_MAX_BYTES", default=4 * 1024 * 1024)
