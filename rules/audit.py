"""The audit trail's records (RuleEvaluation), written in bulk with COPY, each row's outcome
named by the id of its RowOutcomeRecord, stored once per organization.

Every evaluation is recorded, whatever its actions did: a value that no PostgreSQL column can
hold (U+0000) is replaced in the record rather than costing the record, and with it the whole
batch of evaluations.
"""

import json
import re
from collections import ChainMap, defaultdict
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.db import connection, transaction

from rules.models import RuleEvaluation
from rules.sql import COPY_EVALUATIONS_SQL, NEXT_EVALUATION_IDS_SQL, RECORD_ROW_OUTCOMES_SQL

__all__ = ["insert_evaluations", "storable_json"]

# The audit record's columns as COPY writes them; JSON columns as JSON text.
_JSON_FIELDS = {"trigger_detail", "inputs", "actions"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The ids of row outcomes already stored, by organization and digest: committed ones only, as
# an id from a rolled-back transaction would name nothing. Bounded: forgotten ids are fetched
# again, once.
_stored_ids: dict[int, dict[str, int]] = {}
MAX_STORED_IDS = 100_000
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
    _name_rows(evaluations)
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
                row[rows_at] = "[" + ",".join(map(str, evaluation.rows)) + "]"
                copy.write_row(row)


def _name_rows(evaluations: list[RuleEvaluation]) -> None:
    """Set each evaluation's `rows` to its row outcomes' ids (from RuleEvaluation's
    `_stored_rows`, see rules/services.py), storing the outcomes not stored yet: a statement
    per batch only while a table's outcomes are new to this process."""
    by_organization: dict[int, list[RuleEvaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_organization[evaluation.organization_id].append(evaluation)
    for organization_id, group in by_organization.items():
        ids: Mapping[str, int] = _stored_ids.get(organization_id, {})
        new = {
            digest: text
            for evaluation in group
            for _row, text, digest in evaluation._stored_rows
            if digest not in ids
        }
        if new:
            with connection.cursor() as cursor:
                texts = [storable_json(text) for text in new.values()]
                cursor.execute(RECORD_ROW_OUTCOMES_SQL, [organization_id, list(new), texts])
                stored = dict(cursor.fetchall())
            transaction.on_commit(partial(_remember, organization_id, stored))
            ids = ChainMap(stored, ids)
        for evaluation in group:
            evaluation.rows = [ids[digest] for _row, _text, digest in evaluation._stored_rows]


def _remember(organization_id: int, stored: dict[str, int]) -> None:
    if sum(map(len, _stored_ids.values())) + len(stored) > MAX_STORED_IDS:
        _stored_ids.clear()
    _stored_ids.setdefault(organization_id, {}).update(stored)
