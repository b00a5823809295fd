"""`make run`'s processes: started together, restarted alone, stopped together.

honcho reads the Procfile and prints every process's lines with its name; its Manager, though,
stops everything when one process exits (a crashed worker took PostgreSQL and NATS down with
it) and sends SIGTERM to each process group, which reaches a Celery worker's pool processes
behind the worker's back (the pool restarts them, and the worker needed a SIGKILL). supervisor
and circus restart, but without a back-off once a process has run (or they give up), and they
print to log files or need a daemon. Hence this small loop around honcho's parts:

- A process that dies while nobody asked it to stop is started again after a back-off
  (RESTART_FIRST_DELAY, doubled after each early death up to RESTART_MAX_DELAY), with a line
  saying how it died; the others keep running. One that ran HEALTHY_AFTER seconds starts over
  at the first delay. What its death left in its process group (a killed worker's pool) is
  stopped before it starts again.
- `stop()` (Ctrl-C) sends SIGTERM to each process itself, never to its group: a Celery worker
  or gunicorn stops its own children in order. SIGKILL only for what is left after STOP_TIMEOUT,
  with a line saying so.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from honcho.colour import get_colours
from honcho.printer import Message, Printer

__all__ = [
    "HEALTHY_AFTER",
    "RESTART_FIRST_DELAY",
    "RESTART_MAX_DELAY",
    "STOP_TIMEOUT",
    "Supervisor",
    "describe_exit",
    "group_alive",
    "restart_delay",
]

# Seconds before a dead process starts again: long enough not to spin on a broken setting,
# short enough that a crash costs a second of service.
RESTART_FIRST_DELAY = 1.0
# The longest wait between two starts of a process that keeps dying: a line every half minute
# says it is still broken, rather than hundreds a minute.
RESTART_MAX_DELAY = 30.0
# Seconds a process must have run for its death to count as a new crash, not the same one: its
# next start waits RESTART_FIRST_DELAY again.
HEALTHY_AFTER = 60.0
# Seconds the processes get to stop after SIGTERM before SIGKILL: a Ctrl-C ends everything
# within 10 s, and the servers (PostgreSQL, NATS) stop in the rest.
STOP_TIMEOUT = 7.0
# Seconds between two looks at the processes while none prints anything.
TICK = 0.1
SYSTEM = "system"


def group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` runs (zombies waiting for init do not count)."""
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def restart_delay(early_deaths: int) -> float:
    """Seconds to wait before starting a process that died `early_deaths` times in a row."""
    return min(RESTART_FIRST_DELAY * 2 ** max(early_deaths - 1, 0), RESTART_MAX_DELAY)


def describe_exit(returncode: int) -> str:
    """`exit status 1`, `by signal SIGKILL`: how a process ended, for a person."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return f"by signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"by signal {-returncode}"


@dataclass
class Child:
    """One process of the Procfile and its current incarnation."""

    name: str
    command: str
    env: dict[str, str]
    colour: str | None
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    early_deaths: int = 0
    start_at: float | None = 0.0  # monotonic time of the next start; None: not to start
    left_group: int | None = None  # the process group a death left behind, if any

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Supervisor:
    """Runs commands (shell command lines, one process each) until `stop()`."""

    def __init__(self, cwd: Path, printer: Printer | None = None) -> None:
        self.cwd = cwd
        self.printer = printer or Printer(width=len(SYSTEM))
        self.children: list[Child] = []
        self.lines: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.stop_requested: str | None = None
        self.needed_sigkill: list[str] = []
        self._colours = get_colours()

    def add(self, name: str, command: str, env: dict[str, str]) -> None:
        self.children.append(Child(name, command, env, next(self._colours)))
        self.printer.width = max(self.printer.width, len(name))

    def stop(self, reason: str) -> None:
        """Ask `run()` to stop everything (safe from a signal handler: it only sets a flag)."""
        self.stop_requested = self.stop_requested or reason

    def run(self) -> None:
        """Start every process, restart those that die, until `stop()`; then stop them all."""
        while self.stop_requested is None:
            now = time.monotonic()
            for child in self.children:
                if child.popen is not None and child.popen.poll() is not None:
                    self._died(child, now)
                if child.popen is None and child.start_at is not None and child.start_at <= now:
                    self._start(child)
            self._print_lines(TICK)
        self.say(f"{self.stop_requested}: stopping every process")
        self._stop_all()

    # --- one child ----------------------------------------------------------------------

    def _start(self, child: Child) -> None:
        if child.left_group is not None:
            # What its last death left (a killed Celery worker's pool) had a SIGTERM a
            # back-off ago; whatever still lingers would compete with the new process.
            self._signal_group(child.left_group, signal.SIGKILL)
            child.left_group = None
        # `exec`: the process is the command itself, not a shell around it, so that a signal
        # sent to it (SIGTERM from us, SIGKILL from a user) reaches the command.
        child.popen = subprocess.Popen(
            f"exec {child.command}",
            shell=True,
            cwd=self.cwd,
            env=child.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the launcher only
        )
        child.started_at = time.monotonic()
        child.start_at = None
        reader = threading.Thread(target=self._read, args=(child, child.popen), daemon=True)
        reader.start()
        self.say(f"{child.name} started (pid={child.popen.pid})")

    def _read(self, child: Child, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for line in iter(popen.stdout.readline, b""):
            self.lines.put(Message("line", line, datetime.datetime.now(), child.name, child.colour))
        popen.stdout.close()

    def _died(self, child: Child, now: float, *, restart: bool = True) -> None:
        assert child.popen is not None
        ran = now - child.started_at
        child.early_deaths = 1 if ran >= HEALTHY_AFTER else child.early_deaths + 1
        delay = restart_delay(child.early_deaths)
        self._print_lines(0)  # its last words first
        again = f", {child.early_deaths} times in a row" if child.early_deaths > 1 else ""
        then = f"; starting it again in {delay:g} s" if restart else ""
        self.say(
            f"{child.name} died ({describe_exit(child.popen.returncode)}) after {ran:.0f} s"
            f"{again}{then}"
        )
        child.left_group = child.popen.pid
        self._signal_group(child.left_group, signal.SIGTERM)
        child.popen = None
        child.start_at = now + delay if restart else None

    @staticmethod
    def _signal_group(pgid: int, signum: signal.Signals) -> bool:
        """Send `signum` to process group `pgid`; False when the group is empty."""
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    # --- stopping -----------------------------------------------------------------------

    def _stop_all(self) -> None:
        """SIGTERM to each process; once it is gone, SIGTERM to what remains of its group;
        SIGKILL to whatever is left after STOP_TIMEOUT."""
        now = time.monotonic()
        for child in self.children:
            if child.popen is not None and child.popen.poll() is not None:
                self._died(child, now, restart=False)  # just now: said; its group told to stop
        waiting = [child for child in self.children if child.running]
        for child in waiting:
            assert child.popen is not None
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        stopped: set[str] = set()
        while waiting and time.monotonic() < deadline:
            self._print_lines(TICK)
            for child in list(waiting):
                assert child.popen is not None
                if child.popen.poll() is None:
                    continue
                if child.name not in stopped:
                    stopped.add(child.name)
                    self.say(f"{child.name} stopped ({describe_exit(child.popen.returncode)})")
                    self._signal_group(child.popen.pid, signal.SIGTERM)
                if not group_alive(child.popen.pid):
                    waiting.remove(child)
        for child in waiting:
            assert child.popen is not None
            self.say(
                f"{child.name} did not stop within {STOP_TIMEOUT:g} s of SIGTERM: "
                f"sending SIGKILL to its process group (pid {child.popen.pid})"
            )
            self._signal_group(child.popen.pid, signal.SIGKILL)
            self.needed_sigkill.append(child.name)
        for child in waiting:
            assert child.popen is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(1)
        for child in self.children:
            if child.left_group is not None:  # what a crash left had its SIGTERM long ago
                self._signal_group(child.left_group, signal.SIGKILL)
        self._print_lines(0)

    # --- output -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.printer.write(Message("line", text, datetime.datetime.now(), SYSTEM, None))

    def _print_lines(self, wait: float) -> None:
        """Print the processes' lines gathered so far, waiting up to `wait` for the first."""
        try:
            self.printer.write(self.lines.get(timeout=wait) if wait else self.lines.get_nowait())
            while True:
                self.printer.write(self.lines.get_nowait())
        except queue.Empty:
            pass
