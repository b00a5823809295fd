"""Benchmark of inbound events: consume_bus throughput, its ceiling, and REST under gunicorn.

    .venv/bin/python bench/ingest.py [--events 20000] [--requests 18000] [--consumers 2]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers. Then, in one run:

1. publish: --events inbound messages (10 % of them copies of earlier ones, keys reordered) to
   JetStream on healix.<org>.inbound.aiEngineTimeSlot;
2. ceiling: a bare nats-py loop (fetch a batch, ack each message) drains a second durable
   consumer of the same stream: what the bus alone allows;
3. consume_bus: --consumers `manage.py consume_bus` processes (real ones; by default as many
   as `make run` starts) drain the inbound consumer: events/s from their start-up lines until
   every message is a committed row (accepted or counted);
4. REST: the Procfile's web command (gunicorn, 2 workers); a client (wrk if installed, else
   asyncio: bench/http_load.py; --concurrency in flight) POSTs --requests payloads (10 %
   duplicates) to /api/v1/inbound/<subject>/: requests/s.

The hand-over to the rules is queued (one Celery task per batch, rules/inbound.py)
but
no worker runs: the rules are not what is measured.

Targets (issue 4): consume_bus >= 3,000 events/s and >= 25 % of the ceiling; REST >= 800/s.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, standalone, start_web, wait_until  # noqa: E402
from bench.http_load import load, warm_up  # noqa: E402
from dev import servers as devservers  # noqa: E402 (needs the project on sys.path)
from dev.launcher import BUS_PROCESSES  # noqa: E402

DATABASE = "healix_bench"

SUBJECT = "aiEngineTimeSlot"
# Plans the payloads name: routing looks one up per message, as in real traffic.
PLANS = 50
# Share of messages that repeat an earlier one: the first-message-only path is exercised too.
DUPLICATE_SHARE = 0.10
# Seconds any phase may take before the benchmark gives up (something is broken).
PHASE_TIMEOUT = 300.0


def bodies(plan_ids: list[str], count: int, seed: int, one_plan_each: bool = False) -> list[bytes]:
    """`count` JSON bodies; every tenth (on average) repeats an earlier one, keys reversed.
    Each new body names a random plan, or with `one_plan_each` the next plan of `plan_ids`."""
    rng = random.Random(seed)
    unique: list[dict] = []
    out = []
    for n in range(count):
        if unique and rng.random() < DUPLICATE_SHARE:
            payload = dict(reversed(rng.choice(unique).items()))
        else:
            plan_id = plan_ids[len(unique)] if one_plan_each else rng.choice(plan_ids)
            payload = {"planId": plan_id, "timeSlot": f"{seed}-{n}"}
            unique.append(payload)
        out.append(json.dumps(payload).encode())
    return out


def setup_organization():
    from dev.demo import create_demo_template
    from healix.models import Organization, OrganizationAPIKey, User, UserType
    from plans import services

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = Organization.objects.create(slug=slug, name="Benchmark")
    actor = User.objects.create(username=f"{slug}-a", organization=org, user_type=UserType.ADMIN)
    patient = User.objects.create(username=f"{slug}-p", organization=org)
    template = create_demo_template(org)
    plans = [
        str(services.assign_plan(actor=actor, template=template, user=patient).pk)
        for _ in range(PLANS)
    ]
    _row, key = OrganizationAPIKey.objects.create_key(
        organization=org, name="bench", scopes=["inbound:write"]
    )
    return org, plans, key


async def publish(url: str, subject: str, messages: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=4000)
        for data in messages:
            await js.publish_async(subject, data)
        await js.publish_async_completed()
    finally:
        await nc.close()


async def ceiling(url: str, stream: str, count: int) -> float:
    """events/s of a bare fetch-and-ack loop over the stream's messages."""
    import nats
    from django.conf import settings
    from nats.js.api import AckPolicy, ConsumerConfig

    batch = settings.HEALIX_INBOUND_BATCH  # the batch consume_bus fetches
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        name = f"bench-ceiling-{uuid.uuid4().hex[:6]}"
        config = ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT)
        await js.add_consumer(stream, config)
        sub = await js.pull_subscribe_bind(name, stream)
        started, done = time.perf_counter(), 0
        while done < count:
            for msg in await sub.fetch(batch, timeout=5):
                await msg.ack()
                done += 1
        await nc.flush()
        rate = count / (time.perf_counter() - started)
        await js.delete_consumer(stream, name)
        return rate
    finally:
        await nc.close()


def wait_for(condition, what: str) -> None:
    # Polling is a query every 0.1 s: often enough to measure, rarely enough not to load.
    wait_until(condition, what, PHASE_TIMEOUT)


def rows_done(org) -> int:
    """Messages turned into committed rows: stored events plus counted duplicates."""
    from django.db.models import Count, Sum

    from integrations.models import InboundEvent

    totals = InboundEvent.objects.filter(organization=org).aggregate(
        rows=Count("id"), duplicates=Sum("duplicate_count")
    )
    return totals["rows"] + (totals["duplicates"] or 0)


def start_consume_bus(stack: ExitStack, logs: Path, processes: int) -> None:
    """`processes` consume_bus processes, consuming when this returns; `stack` stops them."""
    started_processes = []
    for number in range(processes):
        log = logs / f"consume_bus-{number}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "consume_bus"],
                cwd=BASE_DIR,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started_processes.append((process, log))

    def stop() -> None:
        for process, _log in started_processes:
            process.send_signal(signal.SIGTERM)
        for process, _log in started_processes:
            process.wait(30)

    stack.callback(stop)
    for _process, log in started_processes:
        wait_for(lambda log=log: "consume_bus started" in log.read_text(), "consume_bus")


def consume_bus_rate(org, count: int, logs: Path, processes: int) -> float:
    with ExitStack() as stack:
        start_consume_bus(stack, logs, processes)
        started = time.perf_counter()
        wait_for(lambda: rows_done(org) >= count, "consume_bus to commit every message")
        return count / (time.perf_counter() - started)


def make_streams(*orgs) -> None:
    """The organizations' inbound streams, as setup_streams makes them."""
    import nats
    from django.conf import settings

    from bus.topology import ensure_inbound

    async def make() -> None:
        nc = await nats.connect(settings.NATS_URL)
        try:
            for org in orgs:
                await ensure_inbound(nc.jetstream(), org.slug)
        finally:
            await nc.close()

    asyncio.run(make())


def rest_rate(key: str, payloads: list[bytes], concurrency: int, log: Path) -> tuple[float, dict]:
    path = f"/api/v1/inbound/{SUBJECT}/"
    requests = [("POST", path, body) for body in payloads]
    with ExitStack() as stack:
        port = start_web(stack, log)
        warm_up(port, key, requests[:200], concurrency)
        result = load(port, key, requests[200:], concurrency)
        return result.rate, result.statuses


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=18_000, help="0: no REST phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--consumers", type=int, default=BUS_PROCESSES, help="consume_bus processes"
    )
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    from bus.topology import inbound_stream_name, inbound_subject

    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    call_command("migrate", verbosity=0)
    org, plans, key = setup_organization()
    print(f"PostgreSQL {os.environ['DATABASE_URL']}\nNATS {devservers.redacted(settings.NATS_URL)}")
    print(f"batch {settings.HEALIX_INBOUND_BATCH}, {os.cpu_count()} CPUs, logs in {logs}\n")

    make_streams(org)
    messages = bodies(plans, args.events, seed=1)
    started = time.perf_counter()
    asyncio.run(publish(settings.NATS_URL, inbound_subject(org.slug, SUBJECT), messages))
    print(f"publish  {args.events} messages in {time.perf_counter() - started:.1f}s")
    stream = inbound_stream_name(org.slug)
    ceiling_rate = asyncio.run(ceiling(settings.NATS_URL, stream, args.events))
    batch = settings.HEALIX_INBOUND_BATCH
    print(f"ceiling  {ceiling_rate:,.0f} events/s (bare nats-py fetch {batch} + ack)")
    bus_rate = consume_bus_rate(org, args.events, logs, args.consumers)
    print(
        f"bus      {bus_rate:,.0f} events/s through {args.consumers} consume_bus process(es) "
        "to committed rows"
    )
    print(f"         = {bus_rate / ceiling_rate:.0%} of the ceiling")
    from integrations.models import InboundEvent

    events = InboundEvent.objects.filter(organization=org)
    print(
        f"         {events.filter(status='accepted').count()} accepted, "
        f"{events.filter(status='rejected').count()} rejected, "
        f"{rows_done(org) - events.count()} duplicates counted"
    )
    figures = [
        Figure(
            f"inbound over the bus, {args.consumers} consume_bus (ingest.py)",
            bus_rate,
            "events/s",
            ceiling=ceiling_rate,
            at_least=3000,
            min_share=0.25,
        )
    ]
    if args.requests:
        payloads = bodies(plans, args.requests + 200, seed=2)
        rest, statuses = rest_rate(key, payloads, args.concurrency, logs / "gunicorn.log")
        print(f"REST     {rest:,.0f} requests/s, the Procfile's web, {args.concurrency} clients")
        print(f"         statuses {statuses}")
        figures.append(
            Figure(
                "POST /api/v1/inbound/<subject>/ (ingest.py)",
                rest,
                "req/s",
                at_least=800,
                valid=set(statuses) <= {200, 202},
            )
        )
    return figures


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
