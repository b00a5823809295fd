"""Benchmark of the inbound batch POST: events/s through POST /api/v1/inbound/<subject>/batch/.

    .venv/bin/python bench/batch.py [--batches 600] [--size 100] [--requests 6000]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers. Then, in one run:

1. ceiling: --ceiling-events inbound messages published to JetStream, drained by a bare nats-py
   fetch-and-ack loop (bench/ingest.py's `ceiling`): what the bus alone allows;
2. single: the Procfile's web command (gunicorn, 2 workers, DEBUG off) and the client of
   bench/http_load.py (--concurrency in flight) POST --requests events one by one to
   /api/v1/inbound/<subject>/ (10 % copies): events/s = requests/s;
3. batch: the same gunicorn and client POST --batches batches of --size events (10 % copies)
   to /api/v1/inbound/<subject>/batch/: events/s = batches/s x --size.

Targets (issue 20): the batch's events/s at least 5x the single POST's measured in the same
run (the single rate is the batch figure's ceiling, the target 500 % of it), and at least
25 % of the bus ceiling. The hand-over to the rules is queued but no worker runs.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, standalone, start_web
from bench.http_load import Load, client_name, load, warm_up
from bench.ingest import SUBJECT, bodies, ceiling, make_streams, publish, setup_organization

DATABASE = "healix_bench_batch"
# Targets of issue 20: the batch against the single POST, and against the bus ceiling.
SINGLE_MULTIPLE = 5.0
BUS_SHARE = 0.25
WARM_UP_REQUESTS = 32


def batches(plan_ids: list[str], count: int, size: int, seed: int) -> list[bytes]:
    """`count` JSON arrays of `size` events each (10 % copies, some across batches)."""
    events = [json.loads(body) for body in bodies(plan_ids, count * size, seed)]
    return [json.dumps(events[n : n + size]).encode() for n in range(0, len(events), size)]


def measure(port: int, key: str, requests: list, concurrency: int) -> Load:
    warm_up(port, key, requests[:WARM_UP_REQUESTS], concurrency)
    return load(port, key, requests[WARM_UP_REQUESTS:], concurrency)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # 600: each of the three rounds lasts seconds, not a busy moment of the machine.
    parser.add_argument("--batches", type=int, default=600)
    parser.add_argument("--size", type=int, default=100, help="events a batch")
    parser.add_argument("--requests", type=int, default=6000, help="single POSTs")
    parser.add_argument("--ceiling-events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    from bus.topology import inbound_stream_name, inbound_subject

    call_command("migrate", verbosity=0)
    org, plans, key = setup_organization()
    logs = Path(tempfile.mkdtemp(prefix="bench-batch-logs-"))
    print(f"PostgreSQL {os.environ['DATABASE_URL']}")
    print(f"{os.cpu_count()} CPUs, logs in {logs}\n")

    make_streams(org)
    subject = inbound_subject(org.slug, SUBJECT)
    asyncio.run(publish(settings.NATS_URL, subject, bodies(plans, args.ceiling_events, seed=1)))
    bus = asyncio.run(
        ceiling(settings.NATS_URL, inbound_stream_name(org.slug), args.ceiling_events)
    )
    print(f"ceiling  {bus:,.0f} events/s (bare nats-py fetch + ack)")

    port = start_web(stack, logs / "gunicorn.log")
    single_path = f"/api/v1/inbound/{SUBJECT}/"
    singles = [
        ("POST", single_path, body)
        for body in bodies(plans, args.requests + WARM_UP_REQUESTS, seed=2)
    ]
    single = measure(port, key, singles, args.concurrency)
    print(
        f"single   {single.rate:,.0f} events/s  p99 {single.p99 * 1000:.1f} ms  {single.statuses}"
    )
    batch_path = f"/api/v1/inbound/{SUBJECT}/batch/"
    sent = batches(plans, args.batches + WARM_UP_REQUESTS, args.size, seed=4)
    batch = measure(port, key, [("POST", batch_path, body) for body in sent], args.concurrency)
    rate = batch.rate * args.size
    print(
        f"batch    {rate:,.0f} events/s ({batch.rate:,.1f} batches of {args.size}/s)  "
        f"p99 {batch.p99 * 1000:.1f} ms  {batch.statuses}"
    )
    print(f"         = {rate / single.rate:.1f}x the single POST, {rate / bus:.0%} of the ceiling")
    for name, result, size in (("single", single, 1), ("batch", batch, args.size)):
        rounds = ", ".join(f"{r * size:,.0f}" for r in result.rounds)
        print(f"         {name}: the median of rounds at {rounds} events/s")
    print(f"\nthe Procfile's web (gunicorn, 2 workers), {args.concurrency} connections from")
    print(client_name())
    single_valid = set(single.statuses) <= {202}
    batch_valid = single_valid and set(batch.statuses) <= {207}
    name = f"POST /inbound/<subject>/batch/, {args.size} a batch (batch.py)"
    return [
        Figure(
            "POST /inbound/<subject>/, one a request", single.rate, "events/s", valid=single_valid
        ),
        Figure(
            f"{name} vs the single POST",
            rate,
            "events/s",
            ceiling=single.rate,
            min_share=SINGLE_MULTIPLE,
            valid=batch_valid,
        ),
        Figure(
            f"{name} vs the bus ceiling",
            rate,
            "events/s",
            ceiling=bus,
            min_share=BUS_SHARE,
            valid=batch_valid,
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
