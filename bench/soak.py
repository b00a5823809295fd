"""Soak run: the whole system under a steady load, minute by minute, and whether memory stays flat.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 5]        (or: make soak MINUTES=10)

Starts an embedded PostgreSQL and nats-server in a scratch folder under var/ (unless
DATABASE_URL / NATS_URL name servers), migrates, makes the streams, loads the demo organization
and runs every process of the Procfile as `make run` does (web, relay, HEALIX_BUS_PROCESSES x
bus, worker, beat, bus_auth), with DEBUG off as in production. The demo receiver is replaced
by bench/webhooks.py's receiver process, which times every webhook; the demo's HTTP
integration (every event) points at it. The demo rule fires once per plan: a time slot posted
for a plan whose risk status is not "scheduled" gives the appointment form and sets it.

For --minutes, --rate inbound time slots a second, each for a plan of its own (made in bulk
before the run), alternate between NATS (a JetStream publish on healix.hrh.inbound.
aiEngineTimeSlot) and REST (POST /api/v1/inbound/aiEngineTimeSlot/ with an API key); about
10 % are copies of an earlier message, keys reordered (the first-message-only path). Every
minute a row: messages sent, inbound events accepted and duplicates counted, rule evaluations,
events published by the relay and webhooks received (each per second), the latency from an
inbound message's send to its plan's first webhook (p50, p95, p99) and the RSS of every
process with its children (gunicorn's and Celery's workers), PostgreSQL's and nats-server's
for information. After the run the pipeline drains (at most DRAIN_SECONDS), the totals are
checked (every first message accepted and fired a webhook, every copy counted once) and memory
is judged: flat if each Procfile process's RSS in the last minute is within MEMORY_TOLERANCE of
its RSS at minute 2 (minute 1 holds the start-up: imports, connections, caches filling).

The rows and the verdict are bench/soak_report.py's.

Retention runs as in production, with periods of minutes (RETENTION below) and beat pruning
every 30 s: every minute the rows of each pruned table are counted too, and the tables are
judged flat if the last minute's count is within TABLE_TOLERANCE of the count once the
longest period has passed (FLAT_FROM_MINUTE). Inbound events keep their hash longer than the
run (the copies must still be duplicates, and their count is read from that table): their
payloads are pruned, their rows are not. Rates of pruned tables come from PostgreSQL's own
counters of rows written (pg_stat_user_tables), which pruning does not lower.
Exit status 1 when memory or a table grew, or a check failed.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    answers,
    procfile_commands,
    production_environment,
    start_command,
    wait_until,
)
from bench.ingest import DUPLICATE_SHARE, SUBJECT
from bench.soak_load import Load, drive_nats, drive_rest, schedule
from bench.soak_report import Report
from bench.webhooks import ReceiverProcess
from dev import servers as devservers
from dev.launcher import BUS_PROCESSES

# Seconds the pipeline may take to deliver what was sent before the run's end.
DRAIN_SECONDS = 120.0
# Seconds the processes may take to start.
START_TIMEOUT = 120.0
# The Procfile's processes that run (the demo receiver is replaced by ours).
SKIPPED = {"receiver"}
# Retention periods of minutes (the settings are in days or hours) and beat's pruning period.
MINUTE_IN_DAYS = 1 / (24 * 60)
RETENTION = {
    "HEALIX_RETENTION_SWEEP_SECONDS": "30",
    "HEALIX_RETENTION_OUTBOX_DAYS": f"{3 * MINUTE_IN_DAYS}",  # Latencies reads it a minute on
    "HEALIX_RETENTION_EVALUATION_DAYS": f"{2 * MINUTE_IN_DAYS}",
    "HEALIX_RETENTION_DELIVERY_DAYS": f"{2 * MINUTE_IN_DAYS}",
    "HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS": f"{2 * MINUTE_IN_DAYS}",
}


def setup(plan_count: int):
    """The demo organization, `plan_count` fresh plans of its template (in bulk: no events)
    for its patient, and an API key for inbound events."""
    from django.utils import timezone

    from dev.demo import DEMO_ORG_SLUG, DEMO_RECEIVER_NAME, load_demo
    from healix.models import Organization, OrganizationAPIKey, User
    from integrations.models import HttpIntegration
    from plans.models import Plan, RoleAssignment
    from rules.models import Rule

    load_demo()
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    template = Rule.objects.get(template__organization=org, subject=SUBJECT).template
    patient = User.objects.get(username="pat.jones")
    now = timezone.now()
    plans = Plan.objects.bulk_create(
        Plan(organization=org, template=template, user=patient, title=f"soak {n}", start_date=now)
        for n in range(plan_count)
    )
    role = template.roles.get(role_id="Patient")
    RoleAssignment.objects.bulk_create(
        RoleAssignment(organization=org, plan=plan, role=role, user=patient) for plan in plans
    )
    _row, key = OrganizationAPIKey.objects.create_key(
        organization=org, name="soak", scopes=["inbound:write"]
    )
    receiver = HttpIntegration.objects.get(organization=org, partner_name=DEMO_RECEIVER_NAME)
    return org, template, [str(plan.pk) for plan in plans], key, receiver


def start_system(stack: ExitStack, logs: Path) -> dict[str, int]:
    """Every process of the Procfile but the demo receiver; {name: pid}."""
    port = devservers.free_port()
    env = {
        **production_environment(),
        # The receiver listens on loopback over plain HTTP, which production refuses.
        "HEALIX_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "HEALIX_WEBHOOK_ALLOW_HTTP": "true",
        "PYTHONUNBUFFERED": "1",
    }
    commands = procfile_commands(port, {"bus": BUS_PROCESSES})
    pids = {}
    for name, (command, process_env) in commands.items():
        if name.split(".")[0] in SKIPPED:
            continue
        process = start_command(stack, command, logs / f"{name}.log", {**env, **process_env})
        # "web", "relay", ...; "bus.1", "bus.2" where there are several.
        single = f"{name.split('.')[0]}.2" not in commands
        pids[name.removesuffix(".1") if single else name] = process.pid
    ready = {"relay.1": "started", "worker.1": "ready."}
    ready.update({name: "consume_bus started" for name in commands if name.startswith("bus.")})
    for name, line in ready.items():
        log = logs / f"{name}.log"
        wait_until(lambda log=log, line=line: line in log.read_text(), name, START_TIMEOUT)
    wait_until(lambda: answers(port), "gunicorn to listen", START_TIMEOUT)
    pids["port"] = port
    return pids


def server_pids(var: Path) -> dict[str, int]:
    """The throwaway nats-server and postmaster (their data are under `var`), for information."""
    import psutil

    found = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if str(var) not in command:
            continue
        if process.info["name"] == "nats-server":
            found["nats"] = process.pid
        elif process.info["name"] == "postgres" and " -D " in f" {command} ":
            found["postgres"] = process.pid
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    # What the worker (2 processes) keeps up with on the 2-core machine while other work runs:
    # at 5/s under a load average of 13 its rule evaluations fell behind (2.8/s).
    parser.add_argument("--rate", type=float, default=2.0, help="inbound messages per second")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="soak-", dir=devservers.var_dir()))
    logs = Path(tempfile.mkdtemp(prefix="soak-logs-"))
    os.environ.update(production_environment())
    # First message only must outlast the run: copies refer to any earlier message.
    hash_days = (args.minutes * 60 + DRAIN_SECONDS + 600) / 86400
    os.environ.update(RETENTION, HEALIX_RETENTION_INBOUND_HASH_DAYS=f"{hash_days}")
    os.environ["HEALIX_VAR_DIR"] = str(var)  # servers, the Celery queue, beat's schedule
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, var, True)
        devservers.start_throwaway_servers(stack)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
        import django

        django.setup()
        return soak(args, stack, var, logs)


def soak(args: argparse.Namespace, stack: ExitStack, var: Path, logs: Path) -> int:
    from django.conf import settings
    from django.core.management import call_command

    for folder in ("queue", "processed"):  # the filesystem transport needs them
        (settings.CELERY_FILESYSTEM_DIR / folder).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    call_command("setup_streams", verbosity=0)
    total = int(args.rate * args.minutes * 60)
    org, template, plan_ids, key, integration = setup(total)
    receiver = ReceiverProcess(logs)
    stack.callback(receiver.finish)
    integration.url = receiver.url("/webhooks")
    integration.save(update_fields=["url"])
    pids = start_system(stack, logs)
    port = pids.pop("port")
    pids.update(server_pids(var))
    print(
        f"{len(pids)} processes up ({', '.join(pids)}); {args.rate:g} messages/s for "
        f"{args.minutes:g} min, half NATS, half REST, ~{DUPLICATE_SHARE:.0%} copies; "
        f"{os.cpu_count()} CPUs; logs in {logs}\n",
        flush=True,
    )
    messages = schedule(plan_ids, total)
    load = Load()
    stop = threading.Event()
    start = time.time() + 1.0
    nats_part = [(n, m) for n, m in enumerate(messages) if n % 2 == 0]
    rest_part = [(n, m) for n, m in enumerate(messages) if n % 2 == 1]
    drivers = [
        threading.Thread(target=drive_nats, args=(nats_part, start, args.rate, stop, load)),
        threading.Thread(
            target=drive_rest, args=(rest_part, start, args.rate, stop, load, port, key)
        ),
    ]
    for driver in drivers:
        driver.start()
    report = Report(org, template, load, receiver, pids, start)
    try:
        for minute in range(1, math.ceil(args.minutes) + 1):
            end = start + min(minute, args.minutes) * 60
            while time.time() < end:
                time.sleep(min(1.0, max(0.0, end - time.time())))
            report.row(str(minute))
    finally:
        stop.set()
        for driver in drivers:
            driver.join()
    # What was sent is still on its way: wait for every plan's webhook, then one last row.
    deadline = time.time() + DRAIN_SECONDS
    while len(report.latencies.done) < len(load.first_sent) and time.time() < deadline:
        time.sleep(2.0)
        report.pending += report.latencies.new(receiver.received())
    report.row("drain")
    return report.verdict(args.minutes)


if __name__ == "__main__":
    sys.exit(main())
