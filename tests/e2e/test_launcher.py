"""`make run` from nothing: the launcher starts its own servers, serves the admin, stops cleanly."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from dev import servers as devservers
from dev.servers import BASE_DIR, free_port
from tests.fixtures.metrics import value

# A fresh var/ means initdb plus every migration; 120 s leaves room for a slow CI machine.
STARTUP_TIMEOUT = 120
# dev/supervisor.py gives processes 7 s before SIGKILL; the servers stop in a second more.
SHUTDOWN_TIMEOUT = 30
DEMO_TEMPLATE = "sAI-ERComp"


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    var_dir: Path
    log: Path
    base_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def processes_using(var_dir: Path) -> list[psutil.Process]:
    """Processes the launcher left: servers name `var_dir` on their command line, and every
    process it started (gunicorn, ...) inherited HEALIX_VAR_DIR."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            inherited = process.environ().get("HEALIX_VAR_DIR") == str(var_dir)
        except psutil.Error:  # gone, a zombie, or not ours to read
            inherited = False
        if inherited or any(str(var_dir) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    # Under var/ rather than pytest's tmp_path: under root PostgreSQL runs as another user, and
    # every pytest run re-chmods /tmp/pytest-of-<user> to 0700, locking it out mid-test.
    devservers.var_dir().mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="test-launcher-", dir=devservers.var_dir()))
    var_dir = scratch / "var"
    log = scratch / "launcher.log"
    port = free_port()
    # No DATABASE_URL / NATS_URL: the launcher must start its own, as on a fresh machine.
    dropped = {
        "DATABASE_URL",
        "NATS_URL",
        "DEBUG",
        "SECRET_KEY",
        "HEALIX_ENCRYPTION_KEYS",
        "HEALIX_ADMIN_PASSWORD",
    }
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    # A free port as the bus's default: the test never takes a developer's own 14222.
    env.update(HEALIX_VAR_DIR=str(var_dir), PORT=str(port), HEALIX_NATS_PORT=str(free_port()))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dev.launcher"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our SIGINT reaches the launcher alone, like a Ctrl-C
        )
    yield Launcher(process, var_dir, log, f"http://127.0.0.1:{port}")
    # Whatever the test did, leave no process behind: a clean stop first, then SIGKILL.
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    for leftover in processes_using(var_dir):
        leftover.kill()
    shutil.rmtree(scratch, ignore_errors=True)


def wait_until_serving(launcher: Launcher) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert launcher.process.poll() is None, f"launcher exited:\n{launcher.output()}"
        try:
            if requests.get(f"{launcher.base_url}/admin/login/", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.ReadTimeout):
            # gunicorn accepts connections before its workers have imported the app: on a
            # busy machine the first answers can take longer than one probe waits.
            pass
        time.sleep(0.5)
    pytest.fail(f"no /admin/login/ after {STARTUP_TIMEOUT}s:\n{launcher.output()}")


def wait_for_output(launcher: Launcher, text: str, timeout: float = 10) -> None:
    """The banner follows the first 200 by up to one probe interval of the launcher."""
    deadline = time.monotonic() + timeout
    while text not in launcher.output():
        assert time.monotonic() < deadline, f"{text!r} never printed:\n{launcher.output()}"
        time.sleep(0.2)


def log_in(base_url: str, password: str) -> requests.Session:
    session = requests.Session()
    login_url = f"{base_url}/admin/login/"
    session.get(login_url, timeout=10).raise_for_status()
    response = session.post(
        login_url,
        data={
            "username": "admin",
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert "sessionid" in session.cookies, "login refused"
    return session


def run_env(launcher: Launcher) -> dict[str, str]:
    """The environment the banner tells a second terminal to load (var/run.env)."""
    path = launcher.var_dir / "run.env"
    assert path.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines())
    return {**os.environ, **{name: value.strip("'") for name, value in values.items()}}


def manage(launcher: Launcher, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=run_env(launcher),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def eventually(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.3)
    return result


def check_the_bus_walk_through(launcher: Launcher) -> None:
    """docs/inbound.md and the README, against the running system."""
    import asyncio
    import json

    import nats

    scopes = ("inbound:write", "inbound:read", "events:read")
    key = manage(
        launcher, "create_api_key", "--org", "hrh", "--name", "e2e",
        *(part for scope in scopes for part in ("--scope", scope)),
    )  # fmt: skip
    user_id = manage(
        launcher,
        "shell",
        "--no-imports",
        "-c",
        "from healix.models import User; print(User.objects.get(username='pat.jones').pk)",
    )
    headers = {"Authorization": f"Api-Key {key}"}
    url = f"{launcher.base_url}/api/v1/inbound/aiEngineTimeSlot/"
    # The web process takes the first copy over REST...
    first = requests.post(
        url, json={"userId": user_id, "timeSlot": "2026-01-05T10:30"}, headers=headers, timeout=10
    )
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "accepted"
    detail = f"{launcher.base_url}/api/v1/inbound/{first.json()['id']}/"
    # ...and the worker hands it on (rulesDoneAt is set by the Celery task)
    eventually(lambda: requests.get(detail, headers=headers, timeout=10).json()["rulesDoneAt"])
    # ...and evaluates the rules for it: the seed's example scheduled Pat's plan when the demo
    # was loaded, so this second slot is evaluated (recorded) but its row does not fire
    evaluations = (
        "from rules.models import RuleEvaluation as E; "
        "print(*E.objects.filter(trigger='integration').order_by('pk')"
        ".values_list('fired_rules', flat=True))"
    )
    fired = eventually(
        lambda: (
            (out := manage(launcher, "shell", "--no-imports", "-c", evaluations)).count("[") == 2
            and out
        )
    )
    assert fired.endswith("[]"), fired

    async def publish_copy_and_read_events() -> list[str]:
        # As a partner: the API key as token, through the bus_auth process's callout
        # (docs/bus-access.md), with what POST /api/v1/bus-credentials/ says
        credentials = requests.post(
            f"{launcher.base_url}/api/v1/bus-credentials/", headers=headers, timeout=10
        ).json()
        nc = await nats.connect(
            credentials["url"], token=key, inbox_prefix=credentials["inboxPrefix"]
        )
        body = json.dumps({"timeSlot": "2026-01-05T10:30", "userId": user_id}).encode()
        await nc.jetstream().publish("healix.hrh.inbound.aiEngineTimeSlot", body)
        await nc.close()
        # The platform's own user reads the demo's events back from the stream
        nc = await nats.connect(run_env(launcher)["NATS_URL"])
        sub = await nc.jetstream().subscribe("healix.hrh.*", ordered_consumer=True)
        subjects = []
        for _ in range(4):  # the demo's events, published by the relay
            subjects.append((await sub.next_msg(timeout=30)).subject)
        await nc.close()
        return subjects

    # The bus process counts the same data from NATS as a duplicate of the first
    subjects = asyncio.run(publish_copy_and_read_events())
    eventually(lambda: requests.get(detail, headers=headers, timeout=10).json()["duplicateCount"])
    assert sorted(set(subjects)) == [
        "healix.hrh.formSubmitted",
        "healix.hrh.planCreated",
        "healix.hrh.workQueueItemStatusUpdated",
    ]


def check_metrics_and_operations(launcher: Launcher, session: requests.Session) -> None:
    """/metrics adds up the processes of the Procfile (docs/operations.md): the REST copy
    counted by a gunicorn worker, the NATS copy by consume_bus, events by the relay."""
    text = requests.get(f"{launcher.base_url}/metrics", timeout=10).text
    inbound = {"subject": "aiEngineTimeSlot"}
    assert value(text, "healix_inbound_messages_total", status="accepted", **inbound) >= 2
    assert value(text, "healix_inbound_messages_total", status="duplicate", **inbound) == 1
    assert value(text, "healix_events_published_total", event_type="planCreated") >= 1
    assert value(text, "healix_webhook_deliveries_total", status="succeeded") >= 1
    page = session.get(f"{launcher.base_url}/admin/operations/", timeout=10)
    assert page.status_code == 200 and "<svg" in page.text


@pytest.mark.e2e
def test_launcher_serves_the_template_editor_and_stops_cleanly(launcher: Launcher) -> None:
    # given the launcher started on an empty var/ directory, without any server named
    wait_until_serving(launcher)
    password = (launcher.var_dir / "admin_password").read_text().strip()
    wait_for_output(launcher, f"password: {password}")
    wait_for_output(launcher, "partners: nats://127.0.0.1:")
    # and it made the key that encrypts secrets at rest, kept for the next run and for manage.py
    key_file = launcher.var_dir / "encryption_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert run_env(launcher)["HEALIX_ENCRYPTION_KEYS"] == key_file.read_text().strip()

    # when the admin logs in with the printed credentials and opens the template editor
    session = log_in(launcher.base_url, password)
    editor = session.get(f"{launcher.base_url}/admin/templates/plantemplate/", timeout=10)

    # then the editor answers and lists the demo template
    assert editor.status_code == 200, launcher.output()
    assert DEMO_TEMPLATE in editor.text, launcher.output()

    # and every process of the Procfile does its part (web, bus, worker, relay, beat)
    check_the_bus_walk_through(launcher)
    # including the webhooks: the demo's receiver verified the demo's events (beat, receiver)
    wait_for_output(launcher, "healix.hrh.planCreated", timeout=60)
    receiver_lines = [line for line in launcher.output().splitlines() if "| webhook " in line]
    assert receiver_lines and all("signature verified" in line for line in receiver_lines)
    wait_for_output(launcher, "beat: Starting")
    check_metrics_and_operations(launcher, session)

    # when it receives a Ctrl-C
    launcher.process.send_signal(signal.SIGINT)

    # then it exits 0 in time and leaves no process behind (servers, gunicorn)
    try:
        returncode = launcher.process.wait(SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {SHUTDOWN_TIMEOUT}s after SIGINT:\n{launcher.output()}")
    assert returncode == 0, launcher.output()
    assert processes_using(launcher.var_dir) == [], launcher.output()
