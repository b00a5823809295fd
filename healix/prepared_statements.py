"""Prepared statements, and what to do when a migration makes one stale.

Django binds parameters on the server (`server_side_binding`, healix/settings.py), so psycopg
prepares every statement a connection has run `prepare_threshold` times: the hot statements
of each REST request and bus batch are planned once per connection. A migration that changes
what a prepared statement returns (a column's type) makes PostgreSQL refuse it ("cached plan
must not change result type"). In a transaction the rollback makes psycopg forget its
statements; outside one nothing would, and the statement would fail until the connection
closes. `forget_stale_plans` closes that connection, so the failure happens once.
"""

from collections.abc import Callable
from typing import Any

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["forget_stale_plans", "install"]


def forget_stale_plans(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    """A Django execute wrapper: on a stale prepared statement outside a transaction, close the
    connection (the next query opens a new one, which prepares afresh), then raise."""
    try:
        return execute(sql, params, many, context)
    except NotSupportedError:
        database = context["connection"]
        if not database.in_atomic_block:
            database.close()
        raise


def install(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """The connection_created receiver (healix/apps.py): every connection gets the wrapper."""
    if forget_stale_plans not in connection.execute_wrappers:
        connection.execute_wrappers.append(forget_stale_plans)
