"""pytest plugin (`-p dev.pytest_plugin` in pyproject.toml): a real PostgreSQL.

Unless DATABASE_URL names a server, it starts an embedded PostgreSQL in a fresh directory
under var/ before pytest-django imports the settings, and deletes it when pytest exits. The
variables go into os.environ so that subprocesses the tests start (whole-system tests) see them.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path

import psutil
import pytest
from cryptography.fernet import Fernet

from dev import servers as devservers

SCRATCH_PREFIX = "test-postgres-"
OWNER_FILE = "owner.pid"  # the pytest process a scratch directory belongs to


# tryfirst: pytest-django's own hook of the same name imports the settings right after.
@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", f"test-only-{secrets.token_urlsafe(16)}")
    # One key per test session, in os.environ: the processes the tests start decrypt too.
    os.environ.setdefault("HEALIX_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    if "CELERY_FILESYSTEM_DIR" not in os.environ:
        # The tests' Celery tasks (and the workers tests start) never touch var/celery.
        celery_dir = tempfile.mkdtemp(prefix="healix-test-celery-")
        atexit.register(shutil.rmtree, celery_dir, True)
        os.environ["CELERY_FILESYSTEM_DIR"] = celery_dir
    if "DATABASE_URL" in os.environ:
        return
    var = devservers.var_dir()
    var.mkdir(parents=True, exist_ok=True)
    remove_abandoned_scratch_dirs(var)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=var))
    (scratch / OWNER_FILE).write_text(str(os.getpid()))
    postgres = devservers.start_postgres(scratch / "pgdata")
    atexit.register(_stop_and_delete, postgres, scratch)
    # A CI timeout sends SIGTERM, which would skip atexit: unwind like Ctrl-C instead.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    os.environ["DATABASE_URL"] = postgres.url()


def remove_abandoned_scratch_dirs(var: Path) -> None:
    """Stop and delete the servers of earlier runs that were killed before their atexit ran.
    Those of pytest runs still going (in parallel) are left alone."""
    for scratch in var.glob(f"{SCRATCH_PREFIX}*"):
        try:
            owner = int((scratch / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        if psutil.pid_exists(owner):
            continue
        pgdata = (scratch / "pgdata").resolve()
        for process in psutil.process_iter(["cmdline"]):
            if str(pgdata) in (process.info["cmdline"] or []):
                process.send_signal(signal.SIGQUIT)  # immediate shutdown
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_and_delete(postgres: devservers.EmbeddedPostgres, scratch: Path) -> None:
    try:
        postgres.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
