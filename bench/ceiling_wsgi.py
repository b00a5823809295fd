"""The REST figures' ceiling: a minimal WSGI application, no Django, doing each endpoint's
durable work and nothing else (issue 20.1).

bench/api.py serves it with the Procfile's own gunicorn command line (only the application
differs) and loads it with the same wrk client and requests as the real API, against the same
PostgreSQL, in the same run:

- `POST /api/v1/inbound/<subject>/`: parse the JSON body, look up the key by its prefix, one
  INSERT into CEILING_TABLE (a copy of the inbound events' table with all its indexes and
  constraints, made by bench/api.py) and a synchronous commit; answers 202.
- `GET /api/v1/events/?after=&limit=`: look up the key by its prefix, then the feed's own SELECT
  (events/sql.py's FEED_SQL, handed over in HEALIX_CEILING_FEED_SQL so that it is the same
  statement), and the payloads as they are stored, in one JSON array; answers 200.

What it leaves out is what a ratio below 100 % is made of: Django's request and response
cycle, DRF, the key's hash check and throttle count, scopes, validation, routing to plans,
the idempotency record, problem details, logs and metrics.

HEALIX_CEILING_DSN names the database (libpq's form). One connection per gunicorn worker,
opened at its first request and kept, as Django keeps its own (CONN_MAX_AGE), with psycopg's
automatic prepared statements, as Healix prepares its hot ones (healix/prepared.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import psycopg

__all__ = ["CEILING_TABLE", "Execute", "application", "feed_answer", "inbound_answer"]

# The inbound copy's table (bench/api.py creates it LIKE the real one, INCLUDING ALL).
CEILING_TABLE = "bench_ceiling_inbound"
KEY_TABLE = "healix_organizationapikey"
FEED_LIMIT_MAX = 500

KEY_SQL = f"SELECT organization_id FROM {KEY_TABLE} WHERE prefix = %s AND NOT revoked"
# A later copy of the same data is counted on the first, as the real API does: every request
# writes, so every commit waits for its flush (wrk replays the requests when it outruns them).
INSERT_SQL = f"""
INSERT INTO {CEILING_TABLE} (id, organization_id, subject, source, status, payload, raw_body,
    payload_hash, errors, plan_ids, duplicate_count, received_at, trace_id)
VALUES (%s, %s, %s, 'rest', 'accepted', %s, '', %s, '[]', '{{}}', 0, now(), '')
ON CONFLICT (organization_id, subject, payload_hash) WHERE status = 'accepted'
DO UPDATE SET duplicate_count = {CEILING_TABLE}.duplicate_count + 1, last_seen_at = now()
"""

_connection: psycopg.Connection | None = None

StartResponse = Callable[[str, list[tuple[str, str]]], object]
# Runs one statement and answers its rows ([] for a statement that returns none): on the
# ceiling's own connection here, on Django's in bench/floor_django.py.
Execute = Callable[[str, Sequence[Any] | Mapping[str, Any]], list[tuple]]


def _database() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        # autocommit: each statement commits on its own, and waits for its flush
        # (synchronous_commit stays at PostgreSQL's default, on).
        _connection = psycopg.connect(os.environ["HEALIX_CEILING_DSN"], autocommit=True)
    return _connection


def _execute(sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> list[tuple]:
    cursor = _database().execute(sql, parameters)
    return cursor.fetchall() if cursor.description else []


def _organization(execute: Execute, authorization: str) -> int | None:
    _scheme, _, key = authorization.partition(" ")
    prefix = key.partition(".")[0]
    rows = execute(KEY_SQL, [prefix])
    return rows[0][0] if rows else None


def inbound_answer(
    execute: Execute, authorization: str, subject: str, body: bytes
) -> tuple[int, bytes]:
    """(status, body) of the inbound POST: the body parsed, the key looked up, one INSERT."""
    payload = json.loads(body)
    organization = _organization(execute, authorization)
    if organization is None:
        return 401, b"{}"
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    event_id = uuid.uuid4()
    execute(INSERT_SQL, [event_id, organization, subject, canonical, digest])
    return 202, b'{"id": "%s"}' % str(event_id).encode()


def feed_answer(execute: Execute, authorization: str, query_string: str) -> tuple[int, bytes]:
    """(status, body) of the feed's GET: the key looked up, then the feed's own SELECT."""
    organization = _organization(execute, authorization)
    if organization is None:
        return 401, b"{}"
    query = parse_qs(query_string)
    transaction, _, event = query.get("after", ["0.0"])[0].partition(".")
    limit = min(int(query.get("limit", ["100"])[0]), FEED_LIMIT_MAX)
    parameters = {
        "organization": organization,
        "after_transaction": int(transaction),
        "after_id": int(event),
        "limit": limit,
    }
    sql = os.environ["HEALIX_CEILING_FEED_SQL"].format(filters="")
    rows = execute(sql, parameters)
    payloads = [payload for _, _, pk, payload in rows if pk is not None]
    # Where the next poll continues: after a full page's last event, else at the horizon.
    after = f"{rows[-1][1]}.{rows[-1][2]}" if len(payloads) == limit else f"{rows[0][0]}.0"
    body = f'{{"events": [{", ".join(payloads)}], "after": "{after}"}}'
    return 200, body.encode()


def _answer(start: StartResponse, answer: tuple[int, bytes]) -> Iterable[bytes]:
    status, body = answer
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def application(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    parts = path.strip("/").split("/")
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if method == "GET" and path == "/api/v1/events/":
        answer = feed_answer(_execute, authorization, environ.get("QUERY_STRING", ""))
        return _answer(start_response, answer)
    if method == "POST" and len(parts) == 4 and parts[:3] == ["api", "v1", "inbound"]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return _answer(start_response, inbound_answer(_execute, authorization, parts[3], body))
    return _answer(start_response, (404, b"{}"))
