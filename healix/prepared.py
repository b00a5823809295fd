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
from django.db import connection

__all__ = ["prepared_cursor"]


@contextmanager
def prepared_cursor() -> Iterator[psycopg.Cursor]:
    """A server-binding cursor on Django's connection, in its transaction, whose database
    errors come out as Django's (django.db.OperationalError and the rest)."""
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
