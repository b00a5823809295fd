"""Prepared statements for the few hot statements whose text never changes.

Django's cursors bind parameters on the client (its default with psycopg 3), so PostgreSQL
parses and plans every statement it receives. For the statements each REST request and each
bus batch runs (the key lookup with its throttle count, the plan lookup, the store of inbound
events), that planning cost as much as the work itself. `prepared_cursor()` binds on the
server instead, and `cursor.execute(sql, params, prepare=True)` then has the statement
planned once per database connection.

`DATABASE_PREPARED_STATEMENTS=false` (for a connection pooler that cannot carry prepared
statements, such as PgBouncer before 1.21 in transaction mode) runs the same statements
unprepared. Statements run here do not show in `connection.queries` (DEBUG).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["prepared_cursor"]


@contextmanager
def prepared_cursor() -> Iterator[psycopg.Cursor]:
    """A server-binding cursor on Django's connection, in its transaction, whose database
    errors come out as Django's (django.db.OperationalError and the rest)."""
    database = connections[DEFAULT_DB_ALIAS]
    database.validate_no_broken_transaction()
    database.ensure_connection()
    # One cursor per connection, kept: making one costs more than a prepared statement's run.
    cursor = getattr(database, "_healix_prepared_cursor", None)
    if cursor is None or cursor.connection is not database.connection:
        cursor = database._healix_prepared_cursor = psycopg.Cursor(database.connection)
    with database.wrap_database_errors:
        yield cursor
