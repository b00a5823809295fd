"""Tenant isolation tested the way a hostile tenant would try it: two organizations, real
PostgreSQL, real nats-server with the auth callout, real processes. One module per threat;
docs/reliability.md ("A hostile tenant") lists each threat with its defence and its test."""
