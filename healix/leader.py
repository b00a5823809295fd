"""One active process of a kind, the others standing by: the relay (events/relay.py) and
Celery beat (healix/beat.py) hold a PostgreSQL session-level advisory lock while active.

A process that dies loses its session, hence its lock: a standby on any host takes over at its
next try. If a host vanishes without closing its connections, the keepalives below make
PostgreSQL drop the session, and free the lock, within about 25 s (10 + 3 x 5) instead of the
operating system's two hours (docs/deploy.md, "Standby processes").
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.db import connections

from healix.sql import ADVISORY_LOCK_SQL, PING_SQL

__all__ = ["TCP_KEEPALIVES", "LeaderLock", "database_params"]

logger = logging.getLogger(__name__)

TCP_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
}


def database_params(alias: str = "default") -> dict[str, Any]:
    """psycopg connection keywords of a Django database (the test database under pytest)."""
    params = connections[alias].get_connection_params()
    # Django's cursor class and adapters are for its own sync connections. These sessions
    # prepare nothing: they live until they break, and a statement a migration made stale
    # would fail until then (healix/prepared.py is for Django's).
    kept = {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    return {**kept, "prepare_threshold": None}


class LeaderLock:
    """The advisory lock `key` on a session of its own (synchronous code: beat)."""

    def __init__(self, key: int, name: str) -> None:
        self.key = key
        self.name = name
        self._session: psycopg.Connection | None = None

    def held(self) -> bool:
        """True while this process holds the lock: checked on the session (a broken one held
        nothing), else tried for. Never raises for a database that is away: that is False."""
        try:
            if self._session is not None and not self._session.closed:
                self._session.execute(PING_SQL)
                return True
            session = psycopg.connect(**database_params(), **TCP_KEEPALIVES, autocommit=True)
            (got,) = session.execute(ADVISORY_LOCK_SQL, [self.key]).fetchone()
            if not got:
                session.close()
                return False
            self._session = session
            logger.info("%s: active (holds the lock)", self.name)
            return True
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        if self._session is not None:
            self._session.close()  # the lock goes with the session
            self._session = None
