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
is still counted) and scope-checked, as in production.

Each figure's ceiling is measured in the same run with the same client, requests and gunicorn
command line: bench/ceiling_wsgi.py, a WSGI application without Django doing each endpoint's
durable work alone (the key looked up by prefix; the feed's own SELECT; the body parsed, one
INSERT into a copy of the inbound table and a synchronous commit). Targets (issue 20, in place
of issue 7's absolute 800 requests/s): each figure >= 50 % of its ceiling.

Between the two, each figure's floor (no target): the ceiling's same work in a DRF view behind
Healix's Django, middleware and DRF settings (bench/floor_django.py), served by the same
command line. Healix's share of its floor is what its own API code leaves; the floor's share
of the ceiling is what Django's and DRF's request cycle leaves.
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
# Issue 20: every REST figure at least half of what the same work costs without Django.
MIN_SHARE = 0.5
CEILING_APPLICATION = "bench.ceiling_wsgi:application"
# The floor: the ceiling's work in a DRF view behind Healix's Django (bench/floor_django.py).
FLOOR_ENVIRONMENT = {"DJANGO_SETTINGS_MODULE": "bench.floor_settings"}


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
    make_ceiling_table()
    port = start_web(stack, logs / "gunicorn.log")
    ceiling_port = start_web(stack, logs / "ceiling.log", CEILING_APPLICATION)
    floor_port = start_web(stack, logs / "floor.log", environment=FLOOR_ENVIRONMENT)
    figures = []
    for name, requests in scenarios.items():
        result = measure(port, key, requests, args.concurrency, name)
        # The floor and the ceiling write the same table: each starts from it empty, so that
        # neither finds the other's rows and counts copies on them instead of inserting.
        empty_ceiling_table()
        floor = measure(floor_port, key, requests, args.concurrency, "  floor (Django, DRF)")
        empty_ceiling_table()
        ceiling = measure(ceiling_port, key, requests, args.concurrency, "  ceiling (no Django)")
        figures.append(
            Figure(
                name,
                result.rate,
                "req/s",
                ceiling=ceiling.rate,
                min_share=MIN_SHARE,
                valid=answered(result) and answered(ceiling),
            )
        )
        # No target: where the gap lies, Django's and DRF's request cycle or Healix's own code.
        figures.append(
            Figure(
                f"  floor: {name}",
                floor.rate,
                "req/s",
                ceiling=ceiling.rate,
                valid=answered(floor),
            )
        )
        print(
            f"{'':36} {result.rate / ceiling.rate:.0%} of the ceiling, "
            f"{result.rate / floor.rate:.0%} of the floor; "
            f"the floor {floor.rate / ceiling.rate:.0%} of the ceiling\n"
        )
    print(f"the ceiling wrote {ceiling_rows()} rows (its inbound POSTs' INSERTs)")
    print(f"\nthe Procfile's web (gunicorn, 2 workers), {args.concurrency} connections from")
    print(client_name())
    return figures


def measure(port: int, key: str, requests: list, concurrency: int, name: str):
    """Warm up with the first 200 requests, load with the rest (bench/http_load.py)."""
    warm_up(port, key, requests[:200], concurrency)
    result = load(port, key, requests[200:], concurrency)
    rounds = ", ".join(f"{r:,.0f}" for r in result.rounds)
    print(f"{name:36} {result.rate:7,.0f} requests/s  p99 {result.p99 * 1000:6.1f} ms  "
          f"{result.statuses}\n{'':36} (median of rounds at {rounds})")  # fmt: skip
    return result


def answered(load) -> bool:
    """Every request of the load was answered as it should be (no 4xx or 5xx)."""
    return set(load.statuses) <= {200, 202}


def empty_ceiling_table() -> None:
    from django.db import connection

    from bench.ceiling_wsgi import CEILING_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {CEILING_TABLE}")


def make_ceiling_table() -> None:
    """The ceiling's inbound table: the real one's columns, indexes and constraints, and
    events/feed.py's statement for its feed, handed to its gunicorn through the environment."""
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    from bench.ceiling_wsgi import CEILING_TABLE, KEY_TABLE
    from events.sql import FEED_SQL
    from healix.models import OrganizationAPIKey
    from integrations.models import InboundEvent

    assert OrganizationAPIKey._meta.db_table == KEY_TABLE
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {CEILING_TABLE} (LIKE {InboundEvent._meta.db_table} INCLUDING ALL)"
        )
    os.environ["HEALIX_CEILING_FEED_SQL"] = FEED_SQL
    params = connection.get_connection_params()
    fields = ("dbname", "user", "password", "host", "port")
    os.environ["HEALIX_CEILING_DSN"] = make_conninfo(
        "", **{name: params[name] for name in fields if params.get(name)}
    )


def ceiling_rows() -> int:
    from django.db import connection

    from bench.ceiling_wsgi import CEILING_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {CEILING_TABLE}")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
