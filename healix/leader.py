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
        self._holds = False

    def held(self) -> bool:
        """True while this process holds the lock, tried for when it does not (a standby keeps
        its session and asks again). A session that broke held nothing; a database that is
        away is False, never an exception."""
        try:
            if self._session is None or self._session.closed or self._session.broken:
                self.release()
                self._session = psycopg.connect(
                    **database_params(), **TCP_KEEPALIVES, autocommit=True
                )
                self._holds = False
            if self._holds:
                self._session.execute(PING_SQL)  # the lock lives as long as the session
                return True
            (self._holds,) = self._session.execute(ADVISORY_LOCK_SQL, [self.key]).fetchone()
            if self._holds:
                logger.info("%s: active (holds the lock)", self.name)
            return self._holds
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        if self._session is not None:
            self._session.close()  # the lock goes with the session
            self._session = None
        self._holds = False
