"""`make run`: the whole platform on one machine, from nothing, with one command.

Starts an embedded PostgreSQL and nats-server unless DATABASE_URL / NATS_URL name others,
migrates, loads the demo organization, makes sure an admin login exists, runs every process of
the Procfile with honcho and prints where to log in. Ctrl-C (or SIGTERM) stops everything, the
Procfile's processes first and the servers last, and exits 0. Data stays in $HEALIX_VAR_DIR
(default var/) for the next run; `make clean` removes it.
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
from honcho.manager import Manager

from healix import devservers, encryption

BASE_DIR = devservers.BASE_DIR
# Seconds between two probes of the web process while waiting to print the banner.
READY_POLL_INTERVAL = 0.5
# consume_bus processes: one commits while the other parses, so two use both cores (one process
# reached 20 % of the bus's ceiling, two 28 %: bench/ingest.py). More share the same durable
# consumer, so this scales out the same way on more machines.
BUS_PROCESSES = int(os.environ.get("HEALIX_BUS_PROCESSES", "2"))
# Exit codes honcho reports after it stopped the processes on our SIGINT / SIGTERM.
STOPPED_BY_SIGNAL = {130, 143}


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


def start_servers(var: Path, stack: contextlib.ExitStack) -> None:
    """Embedded servers for whatever the environment does not name; stopped by `stack`."""
    if "DATABASE_URL" not in os.environ:
        postgres = devservers.start_postgres(var / "postgres")
        stack.callback(postgres.stop)
        os.environ["DATABASE_URL"] = postgres.url()
        say(f"PostgreSQL is running (data in {postgres.data_dir})")
    if "NATS_URL" not in os.environ:
        nats = devservers.start_nats(var / "nats")
        stack.callback(nats.stop)
        os.environ.update(nats.environment())
        say(
            f"nats-server with JetStream and the API-key auth callout is running at "
            f"{nats.client_url} (data in {nats.data_dir})"
        )


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


def print_banner_when_ready(url: str, password: str, done: threading.Event) -> None:
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
    say(
        f"\n{rule}\nHealix is running: {url}/admin/\n"
        f"  user:     admin\n  password: {password}\n"
        f"  bus:      {os.environ['NATS_URL']}\n"
        f"{partners_line}"
        f"manage.py in another terminal: set -a; . {run_env}; set +a\n"
        f"Stop everything with Ctrl-C.\n{rule}"
    )


def run_procfile(port: int, password: str) -> int:
    """Run the Procfile until a signal (or a crash) stops it; honcho's exit code."""
    procfile = parse_procfile((BASE_DIR / "Procfile").read_text())
    manager = Manager()
    concurrency = {"bus": BUS_PROCESSES}
    for process in expand_processes(procfile.processes, concurrency=concurrency, port=port):
        manager.add_process(process.name, process.cmd, env={**os.environ, **process.env})
    done = threading.Event()
    banner = threading.Thread(
        target=print_banner_when_ready,
        args=(f"http://127.0.0.1:{port}", password, done),
        daemon=True,
    )
    banner.start()
    try:
        manager.loop()  # installs its own SIGINT/SIGTERM handlers that stop the processes
    finally:
        done.set()
    return manager.returncode or 0


def main() -> int:
    # Until honcho takes over, SIGINT and SIGTERM unwind (KeyboardInterrupt) so the servers
    # stop in order; SIGINT explicitly, as a shell's `cmd &` starts us with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    var = devservers.var_dir()
    var.mkdir(parents=True, exist_ok=True)
    prepare_environment(var)
    port = int(os.environ.get("PORT", "8000"))
    returncode = 0
    with contextlib.ExitStack() as stack:
        try:
            start_servers(var, stack)
            manage("migrate", "--no-input")
            manage("setup_streams")
            manage("load_demo")
            password = os.environ.get("HEALIX_ADMIN_PASSWORD") or persistent_secret(
                var / "admin_password"
            )
            # Only this command gets the password: the Procfile's processes never need it.
            manage("ensure_admin", env={"HEALIX_ADMIN_PASSWORD": password})
            write_run_env(var)
            returncode = run_procfile(port, password)
        except KeyboardInterrupt:
            returncode = 130
        except subprocess.CalledProcessError as error:
            say(f"FAILED: {' '.join(error.cmd)} exited with {error.returncode}")
            returncode = error.returncode
        finally:
            # A second Ctrl-C must not cut the servers' shutdown short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("stopping the servers")
    say("stopped")
    return 0 if returncode in STOPPED_BY_SIGNAL else returncode


if __name__ == "__main__":
    sys.exit(main())
