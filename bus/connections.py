"""The partners' live connections as bus_auth watches them (bus/callout.py): listed
through the system account's CONNZ, where each is named by its user JWT,
`<org>/<key prefix>/<permissions digest>` (bus/access.py, user_name), and closed with KICK.

- Revocation: every HEALIX_BUS_REVOCATION_CHECK_SECONDS the sweep closes the connections whose
  key is now revoked, expired, deleted or changed in what it may do.
- Connections per key: a connect is refused once its key holds
  HEALIX_BUS_MAX_CONNECTIONS_PER_KEY connections (`ConnectionWatch.admit`). Connects that raced
  past that check (two bus_auth processes answering at once) are closed by the next sweep,
  newest first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import nats
from django.conf import settings
from django.db import close_old_connections

from bus.access import bus_permissions, user_name
from healix.models import OrganizationAPIKey

__all__ = [
    "SYSTEM_REPLY_WINDOW_SECONDS",
    "Connection",
    "ConnectionWatch",
    "connections_to_close",
    "excess_connections",
]

logger = logging.getLogger(__name__)

# Connections listed per server and sweep; more than this many partner connections on one
# server would need paging.
CONNZ_LIMIT = 10_000
# Seconds to wait for the servers' answers to a system request (all of a cluster's servers
# answer; a local one in about a millisecond).
SYSTEM_REPLY_WINDOW_SECONDS = 0.5
# Seconds a connection admitted by this process is counted for its key before CONNZ shows it
# (open, or closed already): nats-server registers it within milliseconds of the callout's
# answer; this covers a slow one.
ADMITTED_SETTLE_SECONDS = 5.0
# CONNZ's `state` for open and recently closed connections both (nats-server's ConnAll).
OPEN_AND_CLOSED = 2
# CONNZ's `start`: Go's RFC 3339 with up to nine fractional digits, which Python reads six of.
_START = re.compile(r"(?P<head>[^.]+?)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)\Z")


@dataclass(frozen=True)
class Connection:
    server_id: str
    cid: int
    name: str  # the user name its JWT gave it
    started: datetime
    is_open: bool = True


def _started(text: str) -> datetime:
    match = _START.match(text)
    if match is None:
        return datetime.max  # unreadable: taken as the newest
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    return datetime.fromisoformat(f"{match['head']}.{fraction}{zone}")


def connections_to_close(user_names: set[str]) -> set[str]:
    """Of the partners' connection user names, those whose key no longer grants exactly what
    the connection was given: revoked, expired, deleted, or with other scopes."""
    prefixes = {name.split("/")[1] for name in user_names if name.count("/") == 2}
    keys = {
        key.prefix: key
        for key in OrganizationAPIKey.objects.filter(
            prefix__in=prefixes, revoked=False
        ).select_related("organization")
    }
    still_valid = set()
    for key in keys.values():
        permissions = bus_permissions(key)
        if permissions is not None and not key.has_expired:
            still_valid.add(user_name(key, permissions))
    return user_names - still_valid


def _connections_to_close(user_names: set[str]) -> set[str]:
    close_old_connections()  # a connection the database dropped is replaced, not reused
    return connections_to_close(user_names)


def excess_connections(connections: list[Connection], limit: int) -> list[Connection]:
    """Each key's connections beyond its first `limit`, oldest kept: the newest are closed."""
    by_key: dict[str, list[Connection]] = defaultdict(list)
    for connection in connections:
        by_key[connection.name].append(connection)
    excess = []
    for held in by_key.values():
        held.sort(key=lambda c: (c.started, c.server_id, c.cid))
        excess += held[limit:]
    return excess


async def gather(
    nc: nats.NATS, subject: str, payload: dict, window: float, expected: int = 0
) -> list[dict]:
    """Every server's answer to a system request (one per server of a cluster): until
    `expected` answers came, else until none came for `window` seconds."""
    inbox = nc.new_inbox()
    answers = await nc.subscribe(inbox)
    try:
        await nc.publish(subject, json.dumps(payload).encode(), reply=inbox)
        gathered = []
        while not expected or len(gathered) < expected:
            try:
                message = await answers.next_msg(timeout=window)
            except TimeoutError:  # idle (nats-py raises its own subclass or asyncio's plain one)
                break
            gathered.append(json.loads(message.data))
        return gathered
    finally:
        await answers.unsubscribe()


class ConnectionWatch:
    """The partners' connections, over bus_auth's connection to the system account."""

    def __init__(self, system: nats.NATS, loop: asyncio.AbstractEventLoop) -> None:
        self.system = system
        self.loop = loop
        # Servers that answered the last full listing: a listing for one key waits for as many.
        self.servers = 0
        # Per user name: the connections this process admitted, by (server id, cid), and when.
        self._admitted: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: Counter[str] = Counter()

    async def connections(self, user: str = "") -> list[Connection]:
        """The partners' open connections on every server; if `user` is given, only those
        named so, and their recently closed ones too."""
        payload: dict = {"auth": True, "limit": CONNZ_LIMIT}
        if user:
            payload.update(user=user, state=OPEN_AND_CLOSED)
        answers = await gather(
            self.system,
            f"$SYS.REQ.ACCOUNT.{settings.HEALIX_BUS_ACCOUNT}.CONNZ",
            payload,
            SYSTEM_REPLY_WINDOW_SECONDS,
            expected=self.servers if user else 0,
        )
        if not user:
            self.servers = len(answers)
        return [
            Connection(
                answer["data"]["server_id"],
                connection["cid"],
                connection.get("authorized_user", ""),
                _started(connection.get("start", "")),
                is_open=not connection.get("stop"),
            )
            for answer in answers
            if "data" in answer
            for connection in answer["data"].get("connections") or []
        ]

    async def admit(self, name: str, server_id: str, cid: int) -> bool:
        """Whether the connection `cid` of `server_id`, named `name`, may be let in: False
        when that key holds its limit already. Connects of one key are checked one at a time;
        if CONNZ cannot be asked, it is let in (the sweep still bounds it)."""
        limit = settings.HEALIX_BUS_LIMITS.connections_per_key
        self._waiting[name] += 1
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                try:
                    listed = await self.connections(name)
                except Exception:
                    logger.warning("Cannot count %s's bus connections; letting it in", name)
                    return True
                held = {(c.server_id, c.cid) for c in listed if c.is_open}
                seen = {(c.server_id, c.cid) for c in listed}
                now = self.loop.time()
                admitted = self._admitted[name]
                for known, when in list(admitted.items()):
                    # shown by CONNZ (counted in `held` if still open), or never registered
                    if known in seen or now - when > ADMITTED_SETTLE_SECONDS:
                        del admitted[known]
                if len(held) + len(admitted) >= limit:
                    return False
                admitted[(server_id, cid)] = now
                return True
        finally:
            self._waiting[name] -= 1
            if not self._waiting[name]:
                del self._waiting[name], self._locks[name]
                if not self._admitted[name]:
                    del self._admitted[name]

    def _forget_settled(self) -> None:
        now = self.loop.time()
        for name in [name for name in self._admitted if name not in self._locks]:
            settled = [
                k for k, t in self._admitted[name].items() if now - t > ADMITTED_SETTLE_SECONDS
            ]
            for known in settled:
                del self._admitted[name][known]
            if not self._admitted[name]:
                del self._admitted[name]

    async def sweep(self) -> int:
        """Close the connections whose key no longer allows them, and those beyond their key's
        limit (newest first); how many were closed."""
        self._forget_settled()
        connections = await self.connections()
        if not connections:
            return 0
        names = {connection.name for connection in connections}
        revoked = await self.loop.run_in_executor(None, _connections_to_close, names)
        allowed = [connection for connection in connections if connection.name not in revoked]
        excess = excess_connections(allowed, settings.HEALIX_BUS_LIMITS.connections_per_key)
        closing = [(c, "its key no longer allows it") for c in connections if c.name in revoked]
        closing += [(c, "its key holds more connections than allowed") for c in excess]
        for connection, reason in closing:
            await self.system.request(
                f"$SYS.REQ.SERVER.{connection.server_id}.KICK",
                json.dumps({"cid": connection.cid}).encode(),
                timeout=SYSTEM_REPLY_WINDOW_SECONDS,
            )
            logger.info(
                "Closed bus connection %s of %s: %s", connection.cid, connection.name, reason
            )
        return len(closing)
