"""Everything NATS: the streams and durable consumers, the consumer loops of `consume_bus`, the
auth callout of `bus_auth` and the partners' credentials."""
