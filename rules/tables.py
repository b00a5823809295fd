"""Compiled decision tables, shared by the evaluations of a process for a short while: a
worker evaluating one inbound event after another must not read and compile the table (and
its template's data model) for every one.

The same scheme as integrations/inbound/definitions.py: an edit saved in this process is forgotten
at
once (signals in rules/apps.py); other processes see it within HEALIX_RULES_TABLE_TTL_SECONDS.
"""

import threading
import time
from typing import Any

from django.conf import settings

from rules.compiler import CompiledTable, compile_table
from templates.models import PlanTemplate

__all__ = ["compiled_table", "forget_all"]

_entries: dict[int, tuple[float, CompiledTable]] = {}
_lock = threading.Lock()


def compiled_table(template: PlanTemplate) -> CompiledTable:
    entry = _entries.get(template.pk)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]
    table = compile_table(template)
    with _lock:
        _entries[template.pk] = (now + settings.HEALIX_RULES_TABLE_TTL_SECONDS, table)
    return table


def forget_all(**_signal_kwargs: Any) -> None:
    """Forget every compiled table (a rule or part of a template changed in this process)."""
    with _lock:
        _entries.clear()
