"""What every benchmark shares: the result shape, the table, running a script alone, the web.

Each bench script offers `parser()` (its options and default sizes), `DATABASE` (the name of its
throwaway database) and `run(args, stack) -> list[Figure]`, which measures with the servers up
and Django set up. `standalone()` runs one script from its command line; bench/run_all.py runs
them all and prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/x.py` puts bench/, not the project, on it
    sys.path.insert(0, str(BASE_DIR))

from cryptography.fernet import Fernet  # noqa: E402

from dev import servers as devservers  # noqa: E402 (needs the project on sys.path)

__all__ = [
    "Figure",
    "exit_status",
    "format_table",
    "percentile",
    "procfile_commands",
    "production_environment",
    "standalone",
    "start_command",
    "start_web",
    "with_servers",
]

# Seconds the web server may take to listen before a benchmark gives up.
WEB_START_TIMEOUT = 120.0
# The WSGI application the Procfile's web line serves.
WEB_APPLICATION = "gunicorn healix.wsgi "

Run = Callable[[argparse.Namespace, ExitStack], "list[Figure]"]


@dataclass(frozen=True)
class Figure:
    """One measured figure, with the ceiling measured in the same run (if any) and its target.

    Targets are bounds on the value (`at_least`, `at_most`) and a least share of the ceiling
    (`min_share`); `valid` is False when the run did not measure what was asked (a rate the
    load generator did not reach, messages that never arrived): the target is then not met.
    """

    name: str
    value: float
    unit: str
    ceiling: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    min_share: float | None = None
    # At most this multiple of the ceiling (a delay against the same delay undisturbed).
    max_share: float | None = None
    valid: bool = True

    @property
    def ratio(self) -> float | None:
        return self.value / self.ceiling if self.ceiling else None

    @property
    def met(self) -> bool | None:
        """None when the figure has no target."""
        bounds = (self.at_least, self.at_most, self.min_share, self.max_share)
        if all(bound is None for bound in bounds):
            return None
        return (
            self.valid
            and (self.at_least is None or self.value >= self.at_least)
            and (self.at_most is None or self.value <= self.at_most)
            and (self.min_share is None or (self.ratio or 0.0) >= self.min_share)
            and (self.max_share is None or (self.ratio or float("inf")) <= self.max_share)
        )

    @property
    def target(self) -> str:
        parts = []
        if self.at_least is not None:
            parts.append(f">= {_number(self.at_least)} {self.unit}")
        if self.at_most is not None:
            parts.append(f"<= {_number(self.at_most)} {self.unit}")
        if self.min_share is not None:
            parts.append(f">= {self.min_share:.0%} of ceiling")
        if self.max_share is not None:
            parts.append(f"<= {self.max_share:.0%} of ceiling")
        return ", ".join(parts) or "-"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def format_table(figures: list[Figure]) -> str:
    """A Markdown table (readable as it is in a terminal, and pasted into docs as it is)."""
    header = ("figure", "value", "ceiling", "ratio", "target", "met")
    rows = [
        (
            figure.name,
            f"{_number(figure.value)} {figure.unit}" + ("" if figure.valid else " (invalid)"),
            "-" if figure.ceiling is None else f"{_number(figure.ceiling)} {figure.unit}",
            "-" if figure.ratio is None else f"{figure.ratio:.0%}",
            figure.target,
            {None: "-", True: "yes", False: "NO"}[figure.met],
        )
        for figure in figures
    ]
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]

    def line(cells) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    separator = "| " + " | ".join("-" * width for width in widths) + " |"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def exit_status(figures: list[Figure]) -> int:
    """0 when no figure misses its target."""
    return 1 if any(figure.met is False for figure in figures) else 0


def with_servers(
    run: Run, args: argparse.Namespace, database: str, environment: dict[str, str] | None = None
) -> list[Figure]:
    """Run `run` against throwaway servers (or DATABASE_URL / NATS_URL), Django set up with
    `environment` added to os.environ first; the servers are gone when this returns."""
    with ExitStack() as stack:
        os.environ.update(environment or {})
        devservers.start_throwaway_servers(stack, database=database)
        share_encryption_key()
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
        # The benchmark's own process makes events through the services: a log line for each
        # would slow its load generator below the rate it is asked for.
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django

        django.setup()
        return run(args, stack)


def standalone(
    run: Run,
    parser: argparse.ArgumentParser,
    database: str,
    environment: Callable[[argparse.Namespace], dict[str, str]] | None = None,
) -> int:
    """A bench script's main(): parse its command line, measure, print the figures' table."""
    args = parser.parse_args()
    figures = with_servers(run, args, database, environment(args) if environment else None)
    print(f"\n{format_table(figures)}")
    return exit_status(figures)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the value `fraction` of the way up the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)


def answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
    except OSError:
        return False
    return True


def procfile_commands(
    port: int, concurrency: dict[str, int] | None = None
) -> dict[str, tuple[str, dict[str, str]]]:
    """The Procfile's command lines by process name (web.1, bus.2, ...), as `make run` expands
    them (dev/launcher.py); `port` is the first process's $PORT."""
    from honcho.environ import expand_processes, parse_procfile

    procfile = parse_procfile((BASE_DIR / "Procfile").read_text())
    expanded = expand_processes(procfile.processes, concurrency=concurrency, port=port)
    return {process.name: (process.cmd, process.env) for process in expanded}


def start_command(
    stack: ExitStack, command: str, log: Path, env: dict[str, str]
) -> subprocess.Popen:
    """Start one Procfile command line in the project with `env` (the virtualenv's commands
    first on PATH), its output into `log`; `stack` stops it (SIGTERM, then SIGKILL)."""
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    with log.open("w") as output:
        # exec: the shell becomes the command, so the SIGTERM below reaches it itself.
        process = subprocess.Popen(
            f"exec {command}", shell=True, cwd=BASE_DIR, env=env, stdout=output, stderr=output
        )

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    return process


def share_encryption_key() -> None:
    """One HEALIX_ENCRYPTION_KEYS for the whole run, in os.environ: this process and every
    process it starts read and write the same encrypted rows."""
    os.environ.setdefault("HEALIX_ENCRYPTION_KEYS", Fernet.generate_key().decode())


def production_environment() -> dict[str, str]:
    """os.environ with DEBUG off, as production runs, and what DEBUG off then requires."""
    share_encryption_key()
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "SECRET_KEY": "bench"}
    env["LOG_LEVEL"] = "WARNING"
    # Plain HTTP on loopback with no TLS proxy in front: nothing to redirect to
    # (healix/settings_headers.py); every other production header stays on.
    env["SECURE_SSL_REDIRECT"] = "false"
    # Every request is still counted by the per-key throttle; the limit is raised so the load
    # is measured rather than refused.
    env["HEALIX_API_RATE_PER_MINUTE"] = str(10**9)
    env.setdefault("CELERY_BROKER_URL", "filesystem://")  # the filesystem transport, as make run
    return env


def start_web(
    stack: ExitStack,
    log: Path,
    application: str | None = None,
    environment: dict[str, str] | None = None,
) -> int:
    """The Procfile's own web command (gunicorn, 2 workers) with DEBUG off, as production runs
    it, on a free port that this returns; `stack` stops it. `application`: another WSGI
    application served by the same command line (a ceiling: bench/ceiling_wsgi.py);
    `environment`: added to its environment (bench/floor_settings.py as the settings)."""
    port = devservers.free_port()
    command, env = procfile_commands(port)["web.1"]
    if application is not None:
        assert WEB_APPLICATION in command, f"the Procfile's web no longer serves {WEB_APPLICATION}"
        command = command.replace(WEB_APPLICATION, f"gunicorn {application} ", 1)
    start_command(stack, command, log, {**production_environment(), **env, **(environment or {})})
    wait_until(lambda: answers(port), "gunicorn to listen", WEB_START_TIMEOUT)
    return port
