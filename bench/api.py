"""Benchmark of the REST API under the production server: requests/s and p99 latency.

    .venv/bin/python bench/api.py [--requests 18000] [--concurrency 16] [--events 5000]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers, fills one organization with --events outgoing events, then runs
the Procfile's web line (gunicorn, 2 workers, DEBUG off, as in production) and a client
holding --concurrency requests in flight (wrk if installed, else asyncio: bench/http_load.py)
against:

1. GET /api/v1/events/?after=<cursor>: a partner that has caught up polls for what is new
   (the common case: an empty or short page);
2. GET /api/v1/events/?limit=100: a partner catching up reads full pages of 100 envelopes;
3. POST /api/v1/inbound/<subject>/: inbound events (10 % duplicates).

Every request is authenticated (hashed key check), throttled (the per-key counter in
PostgreSQL: HEALIX_API_RATE_PER_MINUTE is raised so the load is not refused, but every request
is still counted) and scope-checked, as in production. Target (issue 7): >= 800 requests/s for
GET /api/v1/events/ and for POST /api/v1/inbound/<subject>/ on the 2-core machine.
"""

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, standalone, start_web
from bench.http_load import client_name, load, warm_up
from bench.ingest import SUBJECT, bodies

DATABASE = "healix_bench"
TARGET = 800  # requests/s, issue 7


def setup(events: int):
    from django.db import transaction

    from bench.ingest import setup_organization
    from events.feed import read_feed
    from healix.api.scopes import Scope
    from healix.models import OrganizationAPIKey
    from plans import services
    from plans.models import Plan

    org, plan_ids, _ = setup_organization()
    actor = Plan.objects.get(pk=plan_ids[0]).created_by
    with transaction.atomic():
        for n in range(max(0, events - len(plan_ids))):
            plan = Plan.objects.get(pk=plan_ids[n % len(plan_ids)])
            services.update_plan(actor=actor, plan=plan, risk_status=f"r{n}")
    _row, key = OrganizationAPIKey.objects.create_key(
        organization=org, name="bench-all", scopes=list(Scope.values)
    )
    cursor = None
    while True:
        page = read_feed(org, cursor, 500)
        cursor = page.next_position
        if page.caught_up:
            break
    return org, plan_ids, key, str(cursor)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=18_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--events", type=int, default=5000)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _org, plan_ids, key, caught_up = setup(args.events)
    logs = Path(tempfile.mkdtemp(prefix="bench-api-logs-"))
    print(f"PostgreSQL {os.environ['DATABASE_URL']}")
    print(f"{args.events} events, {os.cpu_count()} CPUs, logs in {logs}\n")
    inbound = [
        ("POST", f"/api/v1/inbound/{SUBJECT}/", body)
        for body in bodies(plan_ids, args.requests, seed=3)
    ]
    scenarios = {
        "GET /api/v1/events/ (caught up)": [("GET", f"/api/v1/events/?after={caught_up}", b"")]
        * args.requests,
        "GET /api/v1/events/ (pages of 100)": [("GET", "/api/v1/events/?limit=100", b"")]
        * args.requests,
        "POST /api/v1/inbound/<subject>/": inbound,
    }
    port = start_web(stack, logs / "gunicorn.log")
    figures = []
    for name, requests in scenarios.items():
        warm_up(port, key, requests[:200], args.concurrency)
        result = load(port, key, requests[200:], args.concurrency)
        rate, p99, statuses = result.rate, result.p99, result.statuses
        rounds = ", ".join(f"{r:,.0f}" for r in result.rounds)
        print(f"{name:36} {rate:7,.0f} requests/s  p99 {p99 * 1000:6.1f} ms  {statuses}")
        print(f"{'':36} (median of rounds at {rounds})")
        valid = set(statuses) <= {200, 202}
        figures.append(Figure(name, rate, "req/s", at_least=TARGET, valid=valid))
    print(f"\nthe Procfile's web (gunicorn, 2 workers), {args.concurrency} connections from")
    print(client_name())
    return figures


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
