"""Ports the embedded servers keep from one `make run` to the next.

A partner given the bus's URL keeps it across restarts. The embedded nats-server listens on the
port remembered in var/ports.json; on a fresh var/ on NATS_DEFAULT_PORT; and only when that port
is taken on a free one, remembered in turn. $HEALIX_NATS_PORT names a port of one's choice (it
wins over the remembered one). A var/ of a run from before ports were kept keeps the port its
last run wrote into nats-server.conf: the URL its partners have.

PostgreSQL needs none of this: the embedded one listens on no TCP port at all, only on a UNIX
socket in its data folder, whose path (DATABASE_URL) is the same on every run.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import psutil

from dev import servers as devservers

__all__ = [
    "NATS_DEFAULT_PORT",
    "PORTS_FILE",
    "BadPortSetting",
    "port_is_free",
    "remembered_nats_port",
    "start_nats",
    "wanted_nats_port",
]

# Not 4222, the standard port, where a NATS of the user's own may listen; below Linux's
# ephemeral range (32768-60999), so no outgoing connection holds it; "1" + 4222 to be told apart.
NATS_DEFAULT_PORT = 14222
PORTS_FILE = "ports.json"
# nats-server.conf's listen line (dev/servers.py), an older var/'s only record of its port.
LISTEN_LINE = re.compile(r'^listen:\s*"?[^":\s]*:(\d+)"?', re.MULTILINE)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nobody listens on `port`. SO_REUSEADDR as servers set it: the connections a
    stopped server leaves in TIME_WAIT do not keep it from binding again at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def remembered_nats_port(var: Path) -> int | None:
    """The bus's port of the last run on `var`: var/ports.json, else an older run's config."""
    try:
        return int(json.loads((var / PORTS_FILE).read_text())["nats"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        listen = LISTEN_LINE.search((var / "nats" / "nats-server.conf").read_text())
    except OSError:
        return None
    return int(listen.group(1)) if listen else None


class BadPortSetting(ValueError):
    """$HEALIX_NATS_PORT is not a TCP port number."""


def wanted_nats_port(var: Path) -> int:
    """The port the bus should listen on: $HEALIX_NATS_PORT, the remembered one, the default."""
    given = os.environ.get("HEALIX_NATS_PORT", "")
    if given:
        if not (given.isdigit() and 0 < int(given) < 65536):
            raise BadPortSetting(f"HEALIX_NATS_PORT must be a TCP port (1-65535), not {given!r}")
        return int(given)
    return remembered_nats_port(var) or NATS_DEFAULT_PORT


def _remember(var: Path, port: int) -> Path:
    path = var / PORTS_FILE
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"nats": port}) + "\n")
    partial.replace(path)  # atomic: a run killed meanwhile leaves the old file whole
    return path


def _held_by_our_stale_server(data_dir: Path) -> bool:
    """True when a nats-server of a killed run still serves `data_dir` (and so holds its port):
    NatsServer.start() stops it first, so the port is ours to take."""
    try:
        pid = int((data_dir / "nats-server.pid").read_text())
        command = psutil.Process(pid).cmdline()
    except (OSError, ValueError, psutil.Error):
        return False
    return any(str(data_dir) in part for part in command)


def start_nats(var: Path) -> tuple[devservers.NatsServer, str]:
    """The embedded nats-server on var/nats, on the port it keeps; and a sentence for the
    banner saying which port that is and why. Stop the server with `.stop()`."""
    data_dir = (var / "nats").resolve()
    wanted = wanted_nats_port(var)
    server = None
    if port_is_free(wanted) or _held_by_our_stale_server(data_dir):
        server = devservers.NatsServer(data_dir, wanted)
        try:
            server.start()
        except RuntimeError:
            if port_is_free(wanted):
                raise  # not the port: something else is wrong, and the log tail says what
            server = None  # taken between our look and the server's bind
    if server is None:
        server = devservers.start_nats(data_dir)  # a free port
    remembered = _remember(var, server.port)
    keeps = f"it keeps port {server.port} on every run (remembered in {remembered})"
    if server.port != wanted:
        return server, f"Port {wanted} was taken, so the bus moved to {server.port}; {keeps}."
    return server, f"The bus {keeps.removeprefix('it ')}."
