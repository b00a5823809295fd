"""The defaults of the per-key limits on the bus (docs/bus-access.md, "Limits"), in one place
for the settings (HEALIX_BUS_MAX_*) and the embedded nats-server's configuration
(healix/devservers.py): what bus_auth tells partners and what the server enforces are the
same numbers."""

__all__ = [
    "MAX_ACK_PENDING",
    "MAX_CONNECTIONS_PER_KEY",
    "MAX_PAYLOAD_BYTES",
    "MAX_SUBSCRIPTIONS",
]

# Connections one key may hold at once: bus_auth refuses more, and its sweep closes any excess.
# A partner runs a few processes of one connection each; 10 leaves room for a rolling restart,
# during which old and new processes overlap.
MAX_CONNECTIONS_PER_KEY = 10
# Subscriptions per partner connection (the partners' account `limits`; nats-server closes a
# connection that makes more). A client needs a handful (its request inbox, a pull consumer's
# inbox, a live subscription): 100 is generous, and bounds what one connection adds to the
# server's routing of every message.
MAX_SUBSCRIPTIONS = 100
# Largest message a partner may publish (the partners' account `max_payload`): the largest
# inbound payload Healix accepts (HEALIX_INBOUND_MAX_BYTES, 256 KiB) plus 8 KiB of headers.
# A bigger one could only be stored as rejected, filling the stream and the database.
MAX_PAYLOAD_BYTES = 256 * 1024 + 8 * 1024
# Events a key's consumer hands out before they are acked, at most (JetStream's
# max_ack_pending; 1000 is its own default for pull consumers): bounds what the server holds
# for a key that pulls and never acks.
MAX_ACK_PENDING = 1000
