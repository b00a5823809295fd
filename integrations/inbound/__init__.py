"""Inbound events: definitions and their JSON Schema, ingest() (first message only), routing,
the inbound REST API and admin."""
