"""Benchmark of beat's inbound hand-off sweep under a hostile backlog: what fairness costs.

    env -u DATABASE_URL .venv/bin/python bench/sweep.py [--events 100000] [--organizations 100]

Starts an embedded PostgreSQL (dev/servers.py) unless DATABASE_URL names one. Then:

1. setup (not measured): --events accepted inbound events the rules are not done with, all
   older than the sweep's threshold: 90 % of one hostile organization's (a flood, or events
   that keep failing), the rest spread over --organizations others;
2. the sweep's selection (rules.inbound.due_events: every organization in turn), and,
   as the ceiling, the selection it replaced (the oldest 1,000 of all organizations, which
   read only the partial index's first rows): sweeps/s, the median of --rounds each;
3. organizations served by one sweep, against those with waiting events (the ceiling).

No target: a sweep runs once a period (60 s by default); the figure says how far below that
its query stays, and the second that every organization with a lost hand-off is served.
"""

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, standalone  # noqa: E402

DATABASE = "healix_bench_sweep"
# The share of the backlog that belongs to the one hostile organization.
HOSTILE_SHARE = 0.9
OLDER_THAN_SECONDS = 60.0


def setup(events: int, organizations: int) -> int:
    """The backlog, written by the database itself; returns the hostile organization's id."""
    from django.db import connection

    from healix.models import Organization
    from integrations.models import InboundEvent

    hostile = Organization.objects.create(slug="hostile", name="Hostile")
    others = Organization.objects.bulk_create(
        Organization(slug=f"tenant-{n}", name=f"Tenant {n}") for n in range(organizations)
    )
    flood = int(events * HOSTILE_SHARE)
    rest = events - flood
    table = InboundEvent._meta.db_table
    insert = f"""
        INSERT INTO {table} (id, organization_id, subject, source, status, payload, raw_body,
            payload_hash, errors, plan_ids, duplicate_count, received_at, trace_id)
        SELECT gen_random_uuid(), (%s::bigint[])[1 + n %% cardinality(%s::bigint[])],
            'slot', 'nats', 'accepted',
            '{{}}', '', md5(random()::text), '[]', '{{}}', 0,
            now() - interval '1 hour' + n * interval '1 ms', ''
        FROM generate_series(1, %s) AS n
    """
    with connection.cursor() as cursor:
        cursor.execute(insert, [[hostile.pk], [hostile.pk], flood])
        ids = [org.pk for org in others]
        cursor.execute(insert, [ids, ids, rest])
        cursor.execute(f"ANALYZE {table}")
    return hostile.pk


def sweeps_per_second(select, rounds: int) -> float:
    took = []
    for _round in range(rounds):
        started = time.perf_counter()
        select()
        took.append(time.perf_counter() - started)
    return 1 / statistics.median(took)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from integrations.models import InboundEvent, InboundStatus
    from rules.inbound import HANDOFF_SWEEP_LIMIT, due_events

    call_command("migrate", verbosity=0)
    setup(args.events, args.organizations)
    now = timezone.now()

    def fair() -> list:
        return due_events(now, OLDER_THAN_SECONDS, HANDOFF_SWEEP_LIMIT)

    def oldest_first() -> list:
        cutoff = now - timedelta(seconds=OLDER_THAN_SECONDS)
        waiting = InboundEvent.objects.filter(
            status=InboundStatus.ACCEPTED, rules_done_at__isnull=True, received_at__lt=cutoff
        )
        return list(waiting.order_by("received_at").values_list("pk", flat=True)[:1000])

    rate = sweeps_per_second(fair, args.rounds)
    ceiling = sweeps_per_second(oldest_first, args.rounds)
    chosen = fair()
    served = InboundEvent.objects.filter(pk__in=chosen).values("organization_id").distinct().count()
    before = (
        InboundEvent.objects.filter(pk__in=oldest_first())
        .values("organization_id")
        .distinct()
        .count()
    )
    waiting = args.organizations + 1
    print(
        f"sweep    {args.events:,} waiting events of {waiting} organizations: "
        f"{rate:,.1f} sweeps/s in turns ({1000 / rate:.1f} ms), {ceiling:,.1f} oldest first; "
        f"{served} organizations served per sweep (oldest first: {before})"
    )
    return [
        Figure(
            f"sweep in turns, {args.events:,} waiting events (sweep.py)",
            rate,
            "sweeps/s",
            ceiling=ceiling,
        ),
        Figure(
            f"sweep, organizations served of {waiting} waiting", served, "orgs", ceiling=waiting
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
