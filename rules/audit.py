"""The audit trail's records (RuleEvaluation), written in bulk with COPY.

Every evaluation is recorded, whatever its actions did: a value that no PostgreSQL column can
hold (U+0000) is replaced in the record rather than costing the record, and with it the whole
batch of evaluations.
"""

import json
import re
from typing import Any

from django.db import connection

from rules.models import RuleEvaluation
from rules.sql import COPY_EVALUATIONS_SQL, NEXT_EVALUATION_IDS_SQL

__all__ = ["insert_evaluations", "storable_json"]

# The audit record's columns as COPY writes them; JSON columns as JSON text.
_JSON_FIELDS = {"trigger_detail", "inputs", "actions"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# A JSON escape of U+0000 (an odd number of backslashes before it), which PostgreSQL's jsonb
# refuses: a value no column can hold must not cost the whole audit record.
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _json_text(value: Any) -> str:
    return storable_json(_dumps(value))


def storable_json(text: str) -> str:
    """JSON text as jsonb takes it: each escaped U+0000 becomes U+FFFD (the replacement
    character), an escaped backslash before "u0000" is left alone."""
    if "\\u0000" not in text:  # the common case costs one scan
        return text
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text)


def insert_evaluations(evaluations: list[RuleEvaluation]) -> None:
    """Write the audit records with COPY: at hundreds per batch, each with a row outcome per
    rule, an INSERT's statement building costs more than the evaluations themselves. Ids come
    from the table's sequence first, so chained evaluations can name their origin."""
    if not evaluations:
        return
    table = RuleEvaluation._meta.db_table
    fields = [field.attname for field in RuleEvaluation._meta.concrete_fields]
    rows_at = fields.index("rows")
    with connection.cursor() as cursor:
        cursor.execute(NEXT_EVALUATION_IDS_SQL, [table, len(evaluations)])
        for evaluation, (pk,) in zip(evaluations, cursor.fetchall(), strict=True):
            evaluation.pk = pk
        with cursor.cursor.copy(COPY_EVALUATIONS_SQL) as copy:
            for evaluation in evaluations:
                row = [
                    _json_text(value) if name in _JSON_FIELDS else value
                    for name in fields
                    for value in (getattr(evaluation, name),)
                ]
                # The rows' JSON made from their cached texts (rules/engine.py) when there.
                rows = getattr(evaluation, "_rows_text", None)
                row[rows_at] = storable_json(rows) if rows else _json_text(evaluation.rows)
                copy.write_row(row)
