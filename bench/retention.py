"""Benchmark of retention on a table of millions of rows: the pruner's batches against bare
statements, what the inserts of the REST API and the bus feel meanwhile, and time partitions.

    env -u DATABASE_URL .venv/bin/python bench/retention.py [--rows 2000000]

Starts an embedded PostgreSQL (dev/servers.py) unless DATABASE_URL names one. Then:

1. setup (not measured): --rows accepted inbound events of one organization, received over the
   last 100 days in arrival order, written by the database itself: a tenth past the 90-day
   first-message-only horizon (retention deletes them), six tenths between 30 and 90 days old
   with the rules done (retention removes their payload), the rest younger (kept);
2. baseline: --inserts calls of ingest() (the insert and commit of one REST request or bus
   message), one at a time: p50 and p99;
3. retention.prune() as beat runs it (its pause between batches) while a thread makes the same
   calls: rows pruned per second, and the inserts' p50 and p99 meanwhile;
4. the ceiling: the same rows written again and pruned by bare statements, batch after batch
   with no pause, no row locks skipped and nothing else running;
5. time partitions: the same rows in a copy of the table partitioned by day: how long dropping
   the partitions past the horizon takes, and whether PostgreSQL accepts the first-message-only
   unique index there (it does not: a unique index on a partitioned table must hold the
   partition key, and first message only is over (organization, subject, hash) at any age).

No target: the pruner is made to rest, so its rate is its ceiling's share by choice; what
matters is that it prunes a day's arrivals in far less than a day, and that the inserts' p99
stays close to the baseline.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, percentile, standalone  # noqa: E402
from bench.ingest import SUBJECT, setup_organization  # noqa: E402

DATABASE = "healix_bench_retention"
DAYS_SPREAD = 100
HORIZON_DAYS = 90
PAYLOAD_DAYS = 30
BATCH = 1000


def fill(organization_id: int, rows: int, table: str | None = None) -> None:
    """--rows accepted events in arrival order over DAYS_SPREAD days, rules done."""
    from django.db import connection

    from integrations.models import InboundEvent

    table = table or InboundEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (id, organization_id, subject, source, status, payload,
                raw_body, payload_hash, errors, plan_ids, duplicate_count, received_at,
                rules_done_at, trace_id)
            SELECT gen_random_uuid(), %(org)s, %(subject)s, 'nats', 'accepted',
                jsonb_build_object('planId', gen_random_uuid(), 'timeSlot', n),
                '', md5(n::text) || md5((-n)::text), '[]', '{{}}', 0, at, at, ''
            FROM generate_series(1, %(rows)s) AS n,
                LATERAL (SELECT now() - %(spread)s * interval '1 day'
                    + n * (%(spread)s * interval '1 day' / %(rows)s) AS at) AS t
            """,
            {"org": organization_id, "subject": SUBJECT, "rows": rows, "spread": DAYS_SPREAD},
        )
        cursor.execute(f"VACUUM ANALYZE {table}")


def inserts(org, plan_ids: list[str], count: int, stop: threading.Event | None = None):
    """Seconds each ingest() call took (its own transaction), until `count` or `stop`."""
    from django.db import connection, transaction

    from integrations.inbound.services import ingest
    from integrations.models import InboundSource

    took = []
    try:
        for n in range(count):
            if stop is not None and stop.is_set():
                break
            body = json.dumps({"planId": plan_ids[n % len(plan_ids)], "timeSlot": uuid.uuid4().hex})
            started = time.perf_counter()
            with transaction.atomic():
                ingest(org, SUBJECT, body, InboundSource.REST)
            took.append(time.perf_counter() - started)
            if stop is not None:
                time.sleep(0.005)  # about the rate of a busy REST worker, not a flood
    finally:
        if stop is not None:
            connection.close()  # the thread's own connection
    return took


def bare_prune(table: str) -> int:
    """Rows pruned by bare statements, batch after batch: the horizon's DELETE, then the
    payload's UPDATE, as retention does them (integrations/retention.py), minus its locks
    skipped, its pauses and its ORM."""
    from django.db import connection

    horizon = f"now() - interval '{HORIZON_DAYS} days'"
    payload = f"now() - interval '{PAYLOAD_DAYS} days'"
    statements = [
        f"""DELETE FROM {table} WHERE id IN (
            SELECT id FROM {table} WHERE received_at < {horizon} LIMIT {BATCH})""",
        f"""UPDATE {table} SET payload = NULL, raw_body = '', payload_pruned_at = now()
            WHERE id IN (SELECT id FROM {table} WHERE status = 'accepted'
                AND rules_done_at IS NOT NULL AND payload_pruned_at IS NULL
                AND received_at < {payload} ORDER BY received_at LIMIT {BATCH})""",
    ]
    pruned = 0
    with connection.cursor() as cursor:
        for statement in statements:
            while True:
                cursor.execute(statement)
                pruned += cursor.rowcount
                if cursor.rowcount < BATCH:
                    break
    return pruned


def partitions(organization_id: int, rows: int) -> tuple[float, int, str]:
    """Seconds to drop the day partitions past the horizon, the rows they held, and what
    PostgreSQL answers to the first-message-only index on the partitioned table."""
    from django.db import DatabaseError, connection, transaction

    from integrations.models import InboundEvent

    table = InboundEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE bench_parted (LIKE {table} INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (received_at)"
        )
        cursor.execute("SELECT date_trunc('day', now())")
        today = cursor.fetchone()[0]
        for day in range(-DAYS_SPREAD - 1, 2):
            cursor.execute(
                f"CREATE TABLE bench_parted_{day + DAYS_SPREAD + 1} PARTITION OF bench_parted "
                "FOR VALUES FROM (%s::timestamptz + %s * interval '1 day') "
                "TO (%s::timestamptz + %s * interval '1 day')",
                [today, day, today, day + 1],
            )
        cursor.execute(
            "CREATE INDEX ON bench_parted (organization_id, received_at DESC)"
        )  # the table's own indexes, as far as a partitioned table can have them
    fill(organization_id, rows, "bench_parted")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE UNIQUE INDEX ON bench_parted (organization_id, subject, payload_hash) "
                "WHERE status = 'accepted'"
            )
        answer = "accepted"
    except DatabaseError as error:
        answer = str(error).splitlines()[0]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'bench_parted'::regclass"""
        )
        bounds = cursor.fetchall()
        cursor.execute(f"SELECT now() - interval '{HORIZON_DAYS} days'")
        horizon = cursor.fetchone()[0]
        expired = []
        for name, _bound in bounds:
            cursor.execute(f"SELECT max(received_at), count(*) FROM {name}")
            newest, count = cursor.fetchone()
            if newest is not None and newest < horizon:
                expired.append((name, count))
        started = time.perf_counter()
        for name, _count in expired:
            cursor.execute(f"DROP TABLE {name}")
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_parted")
    return seconds, sum(count for _name, count in expired), answer


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--inserts", type=int, default=2000)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.core.management import call_command
    from django.db import connection

    from healix import retention
    from integrations.models import InboundEvent

    call_command("migrate", verbosity=0)
    org, plan_ids, _key = setup_organization()
    table = InboundEvent._meta.db_table
    print(f"retention: writing {args.rows:,} inbound events over {DAYS_SPREAD} days", flush=True)
    fill(org.pk, args.rows)
    baseline = inserts(org, plan_ids, args.inserts)

    stop = threading.Event()
    during: list[float] = []
    inserter = threading.Thread(
        target=lambda: during.extend(inserts(org, plan_ids, 10**9, stop)), daemon=True
    )
    inserter.start()
    started = time.perf_counter()
    counts = retention.prune(run_seconds=3600)
    pruning_seconds = time.perf_counter() - started
    stop.set()
    inserter.join()
    pruned = sum(counts.values())

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
    fill(org.pk, args.rows)
    started = time.perf_counter()
    bare = bare_prune(table)
    bare_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")

    drop_seconds, dropped, unique_answer = partitions(org.pk, args.rows)
    p50, p99 = (percentile(baseline, q) * 1000 for q in (0.5, 0.99))
    p50_during, p99_during = (percentile(during, q) * 1000 for q in (0.5, 0.99))
    print(
        f"retention {args.rows:,} rows: pruned {pruned:,} in {pruning_seconds:.1f} s "
        f"({pruned / pruning_seconds:,.0f} rows/s, pauses of "
        f"{retention.settings.HEALIX_RETENTION_PAUSE_SECONDS} s); bare statements "
        f"{bare:,} in {bare_seconds:.1f} s ({bare / bare_seconds:,.0f} rows/s)\n"
        f"  ingest() p50/p99 {p50:.1f}/{p99:.1f} ms alone, {p50_during:.1f}/{p99_during:.1f} ms "
        f"while pruning ({len(during):,} calls, median {statistics.median(during) * 1000:.1f} ms)"
        f"\n  partitions: dropped {dropped:,} rows past the horizon in {drop_seconds * 1000:.0f} "
        f"ms; the first-message-only unique index: {unique_answer}",
        flush=True,
    )
    return [
        Figure(
            f"retention, {args.rows:,} inbound events, as beat runs it (retention.py)",
            pruned / pruning_seconds,
            "rows/s",
            ceiling=bare / bare_seconds,
        ),
        Figure("retention, ingest() p99 while pruning", p99_during, "ms", ceiling=p99),
        Figure(
            "retention, dropping day partitions past the horizon",
            dropped / drop_seconds if drop_seconds else 0.0,
            "rows/s",
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
