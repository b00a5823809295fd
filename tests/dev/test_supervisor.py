"""`make run`'s supervisor, on real processes: restarts with a back-off, stops without SIGKILL."""

import io
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from honcho.printer import Printer

from dev import supervisor
from dev.supervisor import Supervisor, describe_exit, restart_delay
from tests.fixtures.waiting import wait_until

PYTHON = sys.executable
SLEEPER = f"{PYTHON} -c 'import time; time.sleep(300)'"


class Supervised:
    """A Supervisor running in a thread, its output in memory."""

    def __init__(self, cwd: Path, commands: dict[str, str]) -> None:
        self.output = io.StringIO()
        self.supervisor = Supervisor(cwd, Printer(output=self.output))
        for name, command in commands.items():
            self.supervisor.add(name, command, dict(os.environ))
        self.thread = threading.Thread(target=self.supervisor.run, daemon=True)
        self.thread.start()

    def text(self) -> str:
        return self.output.getvalue()

    def pids(self, name: str) -> list[int]:
        return [int(pid) for pid in re.findall(rf"{name} started \(pid=(\d+)\)", self.text())]

    def wait_for(self, text: str, count: int = 1) -> None:
        wait_until(lambda: self.text().count(text) >= count)

    def stop(self) -> None:
        self.supervisor.stop("test over")
        self.thread.join(30)
        assert not self.thread.is_alive(), self.text()


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(**commands: str) -> Supervised:
        started.append(Supervised(tmp_path, commands))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def test_the_back_off_doubles_up_to_its_ceiling() -> None:
    delays = [restart_delay(deaths) for deaths in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_an_exit_reads_as_a_status_or_a_signal() -> None:
    assert describe_exit(0) == "exit status 0"
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-signal.SIGKILL) == "by signal SIGKILL"


def test_a_killed_process_is_started_again_and_the_others_keep_running(supervise) -> None:
    # given two processes under the supervisor
    running = supervise(worker=SLEEPER, web=SLEEPER)
    running.wait_for("worker started")
    running.wait_for("web started")
    [worker], [web] = running.pids("worker"), running.pids("web")

    # when one is killed with SIGKILL
    os.kill(worker, signal.SIGKILL)

    # then a line says so, and it is started again after the first back-off
    running.wait_for("worker died (by signal SIGKILL)")
    running.wait_for("worker started", count=2)
    assert "starting it again in 1 s" in running.text()
    assert running.pids("worker")[1] != worker
    assert psutil.Process(running.pids("worker")[1]).is_running()
    # and the other process was left alone
    assert running.pids("web") == [web] and psutil.Process(web).is_running()


def test_what_a_dead_process_left_in_its_group_is_stopped(supervise) -> None:
    # given a process with a child of its own (as a Celery worker has its pool)
    parent = (
        f"{PYTHON} -c 'import subprocess, sys, time; "
        f'print(subprocess.Popen(["sleep", "300"]).pid, flush=True); time.sleep(300)\''
    )
    running = supervise(worker=parent)
    wait_until(lambda: re.search(r"worker +\| (\d+)", running.text()))
    pool = psutil.Process(int(re.search(r"worker +\| (\d+)", running.text()).group(1)))

    # when the process is killed, its child orphaned
    os.kill(running.pids("worker")[0], signal.SIGKILL)

    # then the orphan is stopped before the process starts again
    running.wait_for("worker started", count=2)
    wait_until(lambda: not pool.is_running() or pool.status() == psutil.STATUS_ZOMBIE)


def test_a_process_that_keeps_dying_waits_longer_each_time(supervise, monkeypatch) -> None:
    # given short delays, and a process that fails at once
    monkeypatch.setattr(supervisor, "RESTART_FIRST_DELAY", 0.05)
    running = supervise(broken=f"{PYTHON} -c 'raise SystemExit(3)'")

    # then each death is a line with its exit status, and the count of deaths in a row grows
    running.wait_for("broken died (exit status 3)", count=3)
    assert "3 times in a row; starting it again in 0.2 s" in running.text()


def test_a_process_that_ran_a_while_starts_over_at_the_first_delay(supervise, monkeypatch) -> None:
    # given every run counting as long (HEALTHY_AFTER 0 s)
    monkeypatch.setattr(supervisor, "RESTART_FIRST_DELAY", 0.05)
    monkeypatch.setattr(supervisor, "HEALTHY_AFTER", 0)
    running = supervise(flaky=f"{PYTHON} -c 'raise SystemExit(1)'")
    # then its deaths never add up
    running.wait_for("flaky died", count=3)
    assert "in a row" not in running.text()


def test_stop_signals_the_process_not_its_children(supervise, tmp_path) -> None:
    # given a process that stops its own child on SIGTERM (as a Celery worker stops its pool),
    # the child noting which signal reached it
    marks = tmp_path / "marks"
    child = (
        "import signal, sys, time\n"
        f"def note(signum, _): open({str(marks)!r}, 'a').write(signal.Signals(signum).name)"
        "; sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, note); signal.signal(signal.SIGUSR1, note)\n"
        "time.sleep(300)\n"
    )
    (tmp_path / "child.py").write_text(child)
    parent = (
        "import signal, subprocess, sys, time\n"
        f"child = subprocess.Popen([{PYTHON!r}, 'child.py'])\n"
        "print('ready', flush=True)\n"
        "def stop(*_): child.send_signal(signal.SIGUSR1); child.wait(); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "time.sleep(300)\n"
    )
    (tmp_path / "parent.py").write_text(parent)
    running = supervise(worker=f"{PYTHON} parent.py")
    running.wait_for("worker | ready")
    time.sleep(0.5)  # the child installs its handlers

    # when the supervisor stops
    running.stop()

    # then the parent stopped its child itself: the child never got a SIGTERM of its own
    assert marks.read_text() == "SIGUSR1"
    assert "worker stopped (exit status 0)" in running.text()
    assert running.supervisor.needed_sigkill == []


def test_a_process_that_ignores_sigterm_gets_sigkill_and_a_line_saying_so(
    supervise, monkeypatch
) -> None:
    # given a process that ignores SIGTERM, and a short stop timeout
    monkeypatch.setattr(supervisor, "STOP_TIMEOUT", 1.0)
    stubborn = (
        f"{PYTHON} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        'print("ready", flush=True); time.sleep(300)\''
    )
    running = supervise(stubborn=stubborn)
    running.wait_for("stubborn | ready")
    pid = running.pids("stubborn")[0]

    # when the supervisor stops
    running.stop()

    # then it was killed, and the output says so
    assert "stubborn did not stop within 1 s of SIGTERM: sending SIGKILL" in running.text()
    assert running.supervisor.needed_sigkill == ["stubborn"]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
