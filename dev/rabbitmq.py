"""A RabbitMQ server of the tests' own, for Celery on a real broker (issue 19).

It never touches the machine's RabbitMQ (5672, epmd on 4369, the node `rabbit@<host>`): every
port is a free loopback one (AMQP, Erlang distribution, and an epmd of its own that this module
starts and stops), the node has a name of its own, and its configuration, database, logs,
enabled plugins (none: no management listener) and Erlang cookie (HOME) live in its folder.
The machine's /etc/rabbitmq is never read.

Debian's `rabbitmq-server` package provides the server; its /usr/sbin/rabbitmq-server wrapper
would `su` to the rabbitmq user and use /var/lib/rabbitmq, so the real script it wraps is run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import amqp
import psutil

from dev.servers import free_port

__all__ = ["RABBITMQ_SERVER", "RabbitMQServer", "stop_abandoned"]

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
# Seconds a node may take to boot: about fifteen on this machine for a fresh database.
START_TIMEOUT = 120.0
# Seconds for a clean stop (queues closed, the database flushed) before SIGKILL.
STOP_TIMEOUT = 30.0
# Marks the processes of a server with its folder: a later run finds those of a run that was
# killed before it could stop them (stop_abandoned).
MARKER = "HEALIX_TEST_RABBITMQ_DIR"
OWNER_FILE = "owner.pid"
USER = "healix"

CONFIG = """\
listeners.tcp.1 = 127.0.0.1:{port}
distribution.listener.interface = 127.0.0.1
default_user = {user}
default_pass = {password}
default_vhost = /
log.console = false
log.file.level = info
"""


class RabbitMQServer:
    """One RabbitMQ node on loopback with everything under `folder`; `url` is the broker URL
    for CELERY_BROKER_URL. Start it with `start()`, stop it with `stop()`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.node = f"healix-test-{uuid.uuid4().hex[:8]}@localhost"
        self.epmd: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://{USER}:{self.password}@127.0.0.1:{self.port}//"

    @property
    def log_file(self) -> Path:
        return self.folder / "log" / f"{self.node}.log"

    def _environment(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("RABBITMQ_", "ERL_"))  # a caller's would point elsewhere
        }
        return {
            **inherited,
            MARKER: str(self.folder),
            "HOME": str(self.folder),  # the Erlang cookie, made on first start
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.folder / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            # Our epmd is already up on ERL_EPMD_PORT: erl must not start a daemon that
            # would outlive the node.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
        }

    def _write_files(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / OWNER_FILE).write_text(str(os.getpid()))
        config = CONFIG.format(port=self.port, user=USER, password=self.password)
        (self.folder / "rabbitmq.conf").write_text(config)
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's

    def start(self) -> None:
        if not RABBITMQ_SERVER.exists():
            raise RuntimeError(f"{RABBITMQ_SERVER} is missing: install Debian's rabbitmq-server")
        self._write_files()
        env = self._environment()
        epmd = shutil.which("epmd") or "epmd"
        # Sessions of their own: a terminal's Ctrl-C reaches pytest, which stops them in order.
        self.epmd = subprocess.Popen(
            [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        with (self.folder / "server.out").open("wb") as output:
            self.process = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                cwd=self.folder,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _accepts_clients(self) -> bool:
        """True once the node answers an AMQP handshake with our user: its listener opens
        last, after the database, the default user and the virtual host exist."""
        client = amqp.Connection(
            f"127.0.0.1:{self.port}", userid=USER, password=self.password, connect_timeout=1
        )
        try:
            client.connect()
        except (OSError, amqp.exceptions.AMQPError):
            return False
        with contextlib.suppress(OSError, amqp.exceptions.AMQPError):
            client.close()
        return True

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited early:\n{self.log_tail()}")
            if self._accepts_clients():
                return
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server not ready after {START_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        found = []
        for path in (self.folder / "server.out", self.log_file):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                found.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(found) or "(no log)"

    def stop(self) -> None:
        """SIGTERM to the server script, which stops the node cleanly; SIGKILL to its whole
        process group if it takes too long. Then the epmd."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_TIMEOUT)
            # The node (beam.smp and its helpers) is in the script's process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        if self.epmd is not None:
            self.epmd.kill()
            self.epmd.wait()
            self.epmd = None


def stop_abandoned(folders: list[Path]) -> list[Path]:
    """SIGKILL the processes of servers in `folders` whose pytest process is gone (a run killed
    before its clean-up), found by the folder their environment names; returns those folders,
    for the caller to delete. A folder without an owner yet is being made: it is left alone."""
    abandoned = []
    for folder in folders:
        try:
            owner = int((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            abandoned.append(folder)
    names = {str(folder.resolve()) for folder in abandoned}
    if names:
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.environ().get(MARKER) in names:
                    process.kill()
    return abandoned
