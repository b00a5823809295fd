"""Webhooks: HTTP integrations, fan-out, delivery and its retry policy, signing, the SSRF guard,
the transport, the webhooks REST API and admin."""
