"""Logs with their context, trace ids, metrics and health."""
