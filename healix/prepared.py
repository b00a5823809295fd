"""Prepared statements for the few hot statements whose text never changes.

Django's cursors bind parameters on the client (its default with psycopg 3), so PostgreSQL
parses and plans every statement it receives. For the statements each REST request and each
bus batch runs (the key lookup with its throttle count, the plan lookup, the store of inbound
events), that planning cost as much as the work itself. `prepared_cursor()` binds on the
server instead, and `cursor.execute(sql, params, prepare=True)` then has the statement
planned once per database connection.

`DATABASE_PREPARED_STATEMENTS=false` (for a connection pooler that cannot carry prepared
statements: PgBouncer before 1.21, or later without `max_prepared_statements`) runs the same
statements unprepared. Statements run here do not show in `connection.queries` (DEBUG), and
psycopg forgets them at every rollback (a savepoint's too): they are prepared again after.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connections

__all__ = ["prepared_cursor"]

_kept = threading.local()


@contextmanager
def prepared_cursor() -> Iterator[psycopg.Cursor]:
    """A server-binding cursor on Django's connection, in its transaction, checked as Django
    checks its own cursors (health check, broken transaction), whose database errors come out
    as Django's (django.db.OperationalError and the rest)."""
    database = connections[DEFAULT_DB_ALIAS]
    database.close_if_health_check_failed()
    database.validate_no_broken_transaction()
    database.ensure_connection()
    # One cursor kept per thread, as Django keeps one connection per thread (making a cursor
    # cost more than running the statement); taken while in use, so a nested call gets a
    # cursor of its own, and made anew when Django has opened a new connection.
    cursor = getattr(_kept, "cursor", None)
    _kept.cursor = None
    if cursor is None or cursor.connection is not database.connection:
        cursor = psycopg.Cursor(database.connection)
    try:
        with database.wrap_database_errors:
            yield cursor
    except NotSupportedError:
        # "cached plan must not change result type": a migration changed what a prepared
        # statement returns. psycopg forgets its statements on a rollback, but a statement in
        # autocommit has none; a new connection prepares them again.
        if not database.in_atomic_block:
            database.close()
        raise
    finally:
        _kept.cursor = cursor
