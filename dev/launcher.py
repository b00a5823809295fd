"""`make run`: the whole platform on one machine, from nothing, with one command.

Starts an embedded PostgreSQL and nats-server unless DATABASE_URL / NATS_URL name others (the
bus on the port it keeps from run to run: dev/ports.py), migrates, loads the demo
organization, makes sure an admin login exists, runs every process of the Procfile
(dev/supervisor.py restarts one that dies) and prints where to log in. Ctrl-C (or SIGTERM,
SIGHUP) stops everything, the Procfile's processes first and the servers last, and exits 0.
Data stays in $HEALIX_VAR_DIR (default var/) for the next run; `make clean` removes it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from honcho.environ import expand_processes, parse_procfile

from dev import ports as devports
from dev import servers as devservers
from dev.supervisor import Supervisor
from healix import encryption

BASE_DIR = devservers.BASE_DIR
# Seconds between two probes of the web process while waiting to print the banner.
READY_POLL_INTERVAL = 0.5
# consume_bus processes: one commits while the other parses, so two use both cores
# (docs/performance.md, "Measured decisions"). More share the same durable consumer, so this
# scales out the same way on more machines.
BUS_PROCESSES = int(os.environ.get("HEALIX_BUS_PROCESSES", "2"))
# What stops `make run`: Ctrl-C, a `kill`, the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(message: str) -> None:
    print(f"launcher | {message}", flush=True)


def random_text() -> str:
    return secrets.token_urlsafe(32)


def persistent_secret(path: Path, make: Callable[[], str] = random_text) -> str:
    """Read a secret kept in `path`, creating it (mode 0600, `make()`) on first use."""
    if not path.exists():
        # O_EXCL + mode: the file is never readable by others, not even for an instant.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(make())
    return path.read_text().strip()


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, str(BASE_DIR / "manage.py"), *args]
    subprocess.run(command, check=True, env={**os.environ, **(env or {})})


def prepare_environment(var: Path) -> None:
    """Development defaults for this process and everything it starts."""
    os.environ.setdefault("DEBUG", "true")
    if "SECRET_KEY" not in os.environ:
        os.environ["SECRET_KEY"] = persistent_secret(var / "secret_key")
    if "HEALIX_ENCRYPTION_KEYS" not in os.environ:
        # Kept like the secret key: data encrypted in one run must open in the next.
        key = persistent_secret(var / "encryption_key", encryption.new_key)
        os.environ["HEALIX_ENCRYPTION_KEYS"] = key
    os.environ["HEALIX_VAR_DIR"] = str(var)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")  # honcho relays output line by line
    os.environ.setdefault("LOG_FORMAT", "text")  # readable in a terminal; production: json
    # The demo's webhook receiver listens on loopback, which the SSRF guard otherwise refuses.
    os.environ.setdefault("HEALIX_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    # Procfile commands (gunicorn, celery) are found in this virtualenv even if not activated.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    # Prometheus multi-process mode: every process writes its values here, /metrics adds them
    # up. Emptied at each start: files of a previous run's processes would count again.
    metrics_dir = var / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # The Celery filesystem transport needs its folders to exist (see settings.py).
    for folder in ("queue", "processed"):
        (var / "celery" / folder).mkdir(parents=True, exist_ok=True)


def start_servers(var: Path, stack: contextlib.ExitStack) -> list[str]:
    """Embedded servers for whatever the environment does not name; stopped by `stack`.
    What the banner should say about their addresses."""
    notes = []
    if "DATABASE_URL" not in os.environ:
        postgres = devservers.start_postgres(var / "postgres")
        stack.callback(postgres.stop)
        os.environ["DATABASE_URL"] = postgres.url()
        say(f"PostgreSQL is running (data in {postgres.data_dir})")
        notes.append(
            "The database is a UNIX socket under var/ (no TCP port): same address every run."
        )
    if "NATS_URL" not in os.environ:
        nats, kept = devports.start_nats(var)
        stack.callback(nats.stop)
        os.environ.update(nats.environment())
        say(
            f"nats-server with JetStream and the API-key auth callout is running at "
            f"{nats.client_url} (data in {nats.data_dir})"
        )
        notes.insert(0, kept)
    return notes


# What a second terminal needs for manage.py against the running system (see the banner).
RUN_ENV_NAMES = (
    "DEBUG",
    "SECRET_KEY",
    "HEALIX_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "NATS_URL",
    "HEALIX_VAR_DIR",
    "HEALIX_BUS_ACCOUNT",
    "HEALIX_BUS_AUTH_NATS_URL",
    "HEALIX_BUS_AUTH_ISSUER_SEED",
    "HEALIX_BUS_PUBLIC_URL",
)


def write_run_env(var: Path) -> Path:
    """Write the running system's settings to var/run.env (mode 0600: it holds the secret key),
    so that `set -a; . var/run.env; set +a` lets manage.py reach the same servers."""
    path = var / "run.env"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        for name in RUN_ENV_NAMES:
            if name in os.environ:  # the bus's are absent when NATS_URL names another server
                file.write(f"{name}='{os.environ[name]}'\n")
    return path


def print_banner_when_ready(
    url: str, password: str, notes: list[str], done: threading.Event
) -> None:
    while not done.is_set():
        try:
            with urllib.request.urlopen(f"{url}/admin/login/", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        time.sleep(READY_POLL_INTERVAL)
    else:
        return
    rule = "=" * 64
    run_env = Path(os.environ["HEALIX_VAR_DIR"]) / "run.env"
    partners = os.environ.get("HEALIX_BUS_PUBLIC_URL")
    partners_line = f"  partners: {partners} (API key as token)\n" if partners else ""
    database = devservers.redacted(os.environ["DATABASE_URL"])
    say(
        f"\n{rule}\nHealix is running: {url}/admin/\n"
        f"  user:     admin\n  password: {password}\n"
        f"  bus:      {os.environ['NATS_URL']}\n"
        f"{partners_line}"
        f"  database: {database}\n"
        + "".join(f"{note}\n" for note in notes)
        + f"manage.py in another terminal: set -a; . {run_env}; set +a\n"
        f"Stop everything with Ctrl-C.\n{rule}"
    )


def quiet_celery_as_root() -> None:
    """As root (a container, CI) every Celery worker start warns that root is "absolutely not
    recommended"; for a development machine that is no news: said once here, not each start."""
    if os.geteuid() == 0:
        say("running as root: Celery's notice about superuser privileges is left out")
        ignored = "ignore:You're running the worker with superuser"
        given = os.environ.get("PYTHONWARNINGS")
        os.environ["PYTHONWARNINGS"] = f"{given},{ignored}" if given else ignored


def run_procfile(port: int, password: str, notes: list[str]) -> None:
    """Run the Procfile's processes, restarting any that dies, until a stop signal."""
    procfile = parse_procfile((BASE_DIR / "Procfile").read_text())
    supervisor = Supervisor(BASE_DIR)
    concurrency = {"bus": BUS_PROCESSES}
    for process in expand_processes(procfile.processes, concurrency=concurrency, port=port):
        supervisor.add(process.name, process.cmd, env={**os.environ, **process.env})
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, _frame: supervisor.stop(signal.Signals(signum).name))
    done = threading.Event()
    banner = threading.Thread(
        target=print_banner_when_ready,
        args=(f"http://127.0.0.1:{port}", password, notes, done),
        daemon=True,
    )
    banner.start()
    try:
        supervisor.run()
    finally:
        done.set()


def main() -> int:
    # Until the supervisor takes over, a stop signal unwinds (KeyboardInterrupt) so the servers
    # stop in order; SIGINT explicitly, as a shell's `cmd &` starts us with it ignored.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.default_int_handler)
    var = devservers.var_dir()
    var.mkdir(parents=True, exist_ok=True)
    prepare_environment(var)
    port = int(os.environ.get("PORT", "8000"))
    returncode = 0
    with contextlib.ExitStack() as stack:
        try:
            notes = start_servers(var, stack)
            manage("migrate", "--no-input")
            manage("setup_streams")
            manage("load_demo")
            password = os.environ.get("HEALIX_ADMIN_PASSWORD") or persistent_secret(
                var / "admin_password"
            )
            # Only this command gets the password: the Procfile's processes never need it.
            manage("ensure_admin", env={"HEALIX_ADMIN_PASSWORD": password})
            write_run_env(var)
            quiet_celery_as_root()
            run_procfile(port, password, notes)
        except KeyboardInterrupt:
            pass
        except subprocess.CalledProcessError as error:
            say(f"FAILED: {' '.join(error.cmd)} exited with {error.returncode}")
            returncode = error.returncode
        except devports.BadPortSetting as error:
            say(f"FAILED: {error}")
            returncode = 2
        finally:
            # A second Ctrl-C must not cut the servers' shutdown short.
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            say("stopping the servers")
    say("stopped")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
