"""Test support shipped with the project: pytest plugins and helpers."""
