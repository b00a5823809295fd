"""`make run` over its life: a quiet start, crashes it survives, Ctrl-C, and a restart.

One launched stack serves the checks in order (each a test): its output holds no warning and no
traceback; a 403 in the admin logs one line; SIGKILL of the worker, a bus consumer and the
relay gets each restarted while every other process keeps running; Ctrl-C stops it all within
10 s without SIGKILL. Then the same var/ is launched again: the bus keeps its port and the
database its address, and when the port is taken the bus moves to a free one and says so.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.test_launcher import (
    Launcher,
    eventually,
    manage,
    processes_using,
    run_env,
    wait_for_output,
)
from tests.fixtures.launcher import (
    Stack,
    accepted_slots,
    alive,
    api_key,
    change_risk_status,
    log_in_as,
    main_processes,
    noise,
    partners_port,
    publish_time_slot_over_nats,
    received_plan_updates,
    scratch_stack,
    send_time_slot_over_rest,
    server_pids,
)

pytestmark = pytest.mark.e2e

# Issue 16: Ctrl-C stops everything within this many seconds, without a SIGKILL.
CTRL_C_DEADLINE = 10
# The Procfile's processes that the crash check kills (issue 16, item 7).
KILLED = ("worker.1", "bus.1", "relay.1")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with scratch_stack("test-launcher-") as stack:
        yield stack


@pytest.fixture(scope="module")
def running(stack: Stack) -> Launcher:
    """The first run: a fresh var/, the bus's default port named by HEALIX_NATS_PORT."""
    return stack.launch(HEALIX_NATS_PORT=str(stack.nats_port))


# --- a quiet start (item 8) -----------------------------------------------------------------


def test_a_healthy_start_logs_no_warning_and_no_traceback(running: Launcher) -> None:
    # given `make run` on a fresh var/ (migrations, the demo, every process of the Procfile)
    # when an inbound event goes through the web, the worker and the rules, and the demo's
    # webhooks have been delivered
    headers = api_key(running, "inbound:write", "inbound:read")
    send_time_slot_over_rest(running, headers, "2026-02-02T09:00")
    wait_for_output(running, "healix.hrh.planCreated", timeout=60)
    wait_for_output(running, "beat: Starting")
    wait_for_output(running, " ready.")  # the Celery worker's last start-up line
    # then nothing the launcher or its processes printed is a warning, an error or a traceback
    assert noise(running.output()) == [], running.output()


def test_a_403_in_the_admin_logs_one_line_without_traceback(running: Launcher) -> None:
    # given an administrator of hrh (staff, not superuser) logged in to the admin
    password = uuid.uuid4().hex
    code = (
        "from healix.models import User; u = User.objects.get(username='hrh-admin'); "
        f"u.set_password('{password}'); u.save()"
    )
    manage(running, "shell", "--no-imports", "-c", code)
    session = log_in_as(running, "hrh-admin", password)
    before = len(running.output().splitlines())

    # when they open the organizations, which only a superuser may see
    response = session.get(f"{running.base_url}/admin/healix/organization/", timeout=10)

    # then they get a 403, and the logs say so in one line each, without a traceback
    assert response.status_code == 403
    wait_for_output(running, '"GET /admin/healix/organization/ HTTP/1.1" 403')
    time.sleep(1)  # the web process's own log line, if any, follows its access-log line
    after = running.output().splitlines()[before:]
    assert not any("Traceback" in line for line in after), "\n".join(after)
    forbidden = [line for line in after if "Forbidden" in line or " 403 " in line]
    assert 1 <= len(forbidden) <= 2 and len(after) <= 4, "\n".join(after)


# --- crashes and Ctrl-C (item 7) ------------------------------------------------------------


def test_a_killed_worker_bus_and_relay_are_restarted_while_the_rest_keeps_running(
    running: Launcher,
) -> None:
    # given the running stack and its processes
    before = main_processes(running.var_dir)
    assert {*KILLED, "web.1", "bus.2", "beat.1", "bus_auth.1", "receiver.1"} <= before.keys()
    servers = server_pids(running.var_dir)
    pool = before["worker.1"].children(recursive=True)
    assert pool, "the Celery worker has its prefork pool"
    headers = api_key(
        running, "inbound:write", "inbound:read", "plans:read", "plans:write", "events:read"
    )

    # when the worker, one bus consumer and the relay are killed with SIGKILL
    for name in KILLED:
        before[name].kill()

    # then each is started again with a log line saying why, while the launcher goes on
    for name in KILLED:
        wait_for_output(running, f"{name} died", timeout=30)
    eventually(lambda: main_processes(running.var_dir).keys() >= set(KILLED), timeout=60)
    after = main_processes(running.var_dir)
    assert running.process.poll() is None, running.output()
    for name in KILLED:
        assert after[name].pid != before[name].pid
    # and every other process, and the servers, kept running untouched (same PIDs)
    for name in before.keys() - set(KILLED):
        assert after[name].pid == before[name].pid, f"{name} was restarted:\n{running.output()}"
    assert server_pids(running.var_dir) == servers
    # and the killed worker's pool processes did not linger
    assert not [process for process in pool if alive(process)]

    # and the system still works end to end: REST -> web -> worker -> rules
    assert send_time_slot_over_rest(running, headers, "2026-02-03T09:00")["rulesDoneAt"]
    # a partner over NATS -> bus_auth -> a bus consumer -> worker
    publish_time_slot_over_nats(running, headers, "2026-02-04T09:00")
    eventually(lambda: "2026-02-04T09:00" in accepted_slots(running, headers), timeout=60)
    # a system event -> relay -> JetStream -> fan-out -> worker -> the demo's receiver
    delivered = received_plan_updates(running)
    change_risk_status(running, headers)
    eventually(lambda: received_plan_updates(running) > delivered, timeout=60)


def test_ctrl_c_stops_every_process_within_10_s_without_sigkill(
    stack: Stack, running: Launcher
) -> None:
    # given the running stack (a task or two done, a crash survived)
    assert running.process.poll() is None, running.output()
    before = len(running.output().splitlines())

    # when it receives a Ctrl-C
    running.process.send_signal(signal.SIGINT)

    # then the launcher exits 0 within 10 s, and leaves no process behind
    try:
        returncode = running.process.wait(CTRL_C_DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {CTRL_C_DEADLINE}s after SIGINT:\n{running.output()}")
    assert returncode == 0, running.output()
    assert processes_using(running.var_dir) == [], running.output()
    # and every process stopped on its SIGTERM: none needed a SIGKILL
    stopping = running.output().splitlines()[before:]
    assert not [line for line in stopping if "SIGKILL" in line or "rc=-9" in line], stopping
    # and the worker stopped its own pool: no pool process got a signal behind its back
    assert not [line for line in stopping if "exited with 'signal 15" in line], stopping
    started = set(re.findall(r"(\w+\.\d+) started \(pid=", running.output()))
    # (8: web, relay, bus x 2, worker, beat, receiver, bus_auth) each on its SIGTERM
    cleanly = re.compile(r"(\w+\.\d+) stopped \((?:exit status 0|by signal SIGTERM)\)")
    stopped = {match.group(1) for line in stopping if (match := cleanly.search(line))}
    assert stopped == started and len(started) == 8, stopping


# --- a bus URL that stays (item 5) ----------------------------------------------------------


def test_a_restart_keeps_the_bus_port_and_the_database_address(
    stack: Stack, running: Launcher
) -> None:
    # given a first run that gave partners its bus URL, stopped
    first = running.output()
    first_env = run_env(running)
    assert stack.stop() == 0
    assert partners_port(first) == stack.nats_port
    assert f"keeps port {stack.nats_port} on every run" in first

    # when `make run` starts again on the same var/, without naming a port
    again = stack.launch()

    # then partners reach the bus at the same URL, and the banner says it stays
    assert partners_port(again.output()) == stack.nats_port
    assert f"keeps port {stack.nats_port} on every run" in again.output()
    # and the database, a UNIX socket under var/ (no TCP port), is at the same address
    assert run_env(again)["DATABASE_URL"] == first_env["DATABASE_URL"]
    assert f"database: {first_env['DATABASE_URL']}" in again.output()
    assert stack.stop() == 0


def test_a_taken_bus_port_moves_the_bus_to_a_free_one_and_the_banner_says_so(
    stack: Stack, running: Launcher
) -> None:
    # given a var/ whose bus kept a port, taken by another program when `make run` starts again
    stack.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.nats_port))
        squatter.listen()

        # when `make run` starts
        moved = stack.launch()

        # then the bus listens on another port, and the banner says why and that it stays
        port = partners_port(moved.output())
        assert port != stack.nats_port
        assert f"Port {stack.nats_port} was taken" in moved.output()
        assert f"keeps port {port} on every run" in moved.output()
        # and the whole system uses it
        assert f"@127.0.0.1:{port}" in run_env(moved)["NATS_URL"]
    assert stack.stop() == 0
