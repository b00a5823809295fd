"""Integration definitions per (organization, subject) with their compiled JSON Schema
validators, shared by every ingest() of a process for a short while: ingestion must not read
and compile them for every message."""

import threading
import time
from dataclasses import dataclass
from typing import Any

from integrations.inbound.schemas import definition_schema, validator_for
from integrations.models import IntegrationDefinition

__all__ = ["DEFINITIONS_TTL_SECONDS", "Definitions", "forget_all", "lookup"]

# Seconds a process keeps what it read: an edit in the admin reaches every other process within
# this time (the saving process forgets at once, through the signals in apps.py).
DEFINITIONS_TTL_SECONDS = 2.0


@dataclass(frozen=True)
class Definitions:
    by_template: dict[int, IntegrationDefinition]  # template id -> definition
    validators: dict[int, Any]  # definition id -> compiled validator
    expires: float


_entries: dict[tuple[int, str], Definitions] = {}
_lock = threading.Lock()


def lookup(organization_id: int, subject: str) -> Definitions:
    key = (organization_id, subject)
    entry = _entries.get(key)
    if entry is not None and entry.expires > time.monotonic():
        return entry
    found = list(
        IntegrationDefinition.objects.filter(
            organization_id=organization_id, subject=subject
        ).prefetch_related("fields")
    )
    entry = Definitions(
        by_template={definition.template_id: definition for definition in found},
        validators={d.pk: validator_for(definition_schema(d)) for d in found},
        expires=time.monotonic() + DEFINITIONS_TTL_SECONDS,
    )
    with _lock:
        _entries[key] = entry
    return entry


def forget_all(**_signal_kwargs: Any) -> None:
    """Forget everything (a definition or field was saved or deleted in this process)."""
    with _lock:
        _entries.clear()
