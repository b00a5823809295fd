"""Celery beat on two hosts (issue 19, item 3): both run beat, one sends the scheduled tasks
(healix/beat.py); when it is killed, the other takes over. Each "host" is a process of its own
with its own var/ (beat's schedule file), as on two machines; they share the database and the
broker."""

import os
import signal
import sys

import pytest

from tests.fixtures.integrations import subprocess_database_url
from tests.fixtures.processes import start_command, stop_processes
from tests.fixtures.waiting import wait_until
from tests.fixtures.webhooks import settings_env

pytestmark = pytest.mark.django_db(transaction=True)

SENT = "Sending due task"


def start_beat(tmp_path, host: str):
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "DEBUG": "true",
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "broker"),
        "HEALIX_VAR_DIR": str(tmp_path / host),
        **settings_env({"HEALIX_WEBHOOK_SWEEP_SECONDS": 0.2, "HEALIX_BEAT_STANDBY_SECONDS": 0.2}),
    }
    (tmp_path / host).mkdir()
    command = [sys.executable, "-m", "celery", "-A", "healix.celery", "beat", "-l", "INFO"]
    return start_command(command, env, tmp_path / f"{host}.log", own_session=True)


def sent(process) -> int:
    return process.log.read_text().count(SENT)


def test_one_beat_sends_the_other_stands_by_then_takes_over(tmp_path):
    beats = [start_beat(tmp_path, "host-a"), start_beat(tmp_path, "host-b")]
    try:
        # Given two beats started side by side, one sends
        wait_until(lambda: sum(map(sent, beats)) >= 3)
        active, standby = beats if sent(beats[0]) else reversed(beats)
        # and goes on sending while the other sends nothing
        wait_until(lambda: sent(active) >= 10)
        assert sent(standby) == 0, standby.log.read_text()
        # When the active host's beat is killed (no clean-up of any kind)
        os.killpg(active.pid, signal.SIGKILL)
        active.wait()
        # Then the standby takes over
        wait_until(lambda: sent(standby) >= 3)
        assert "beat: active" in standby.log.read_text()
    finally:
        stop_processes(beats)
