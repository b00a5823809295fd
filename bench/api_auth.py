"""Benchmark of the API key check, the hottest path of the REST API: statements and CPU.

    .venv/bin/python bench/api_auth.py [--checks 3000]

Starts an embedded PostgreSQL (dev/servers.py) unless DATABASE_URL names one, makes one
key, then runs in this process --checks key checks (`api_auth.verified_key`, as every REST
request and every bus connect runs it) of each kind: the right key, a wrong secret with the
key's prefix, an unknown prefix. For each it counts the statements sent and the CPU spent, in
this process and in its PostgreSQL backend (the server process that runs them).

In-process, because wall-clock figures are noise on a machine others share: CPU time and
statement counts are not. The ceiling is the same number of bare round trips (a prepared
`SELECT 1`) in the same run: no check can cost less than one statement.
"""

import argparse
import contextlib
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, standalone

DATABASE = "healix_bench_auth"
# The address failed attempts are counted under (bench traffic comes from one client).
CLIENT = "192.0.2.10"


class StatementCounter:
    """Counts the statements every psycopg cursor of this process sends."""

    def __init__(self) -> None:
        import psycopg

        self.count = 0
        self._cursor = psycopg.Cursor
        self._execute = psycopg.Cursor.execute
        counter = self

        def counting_execute(cursor, *args, **kwargs):
            counter.count += 1
            return counter._execute(cursor, *args, **kwargs)

        psycopg.Cursor.execute = counting_execute

    def close(self) -> None:
        self._cursor.execute = self._execute


def backend_cpu() -> float:
    """CPU seconds spent so far by this connection's PostgreSQL server process."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure(what, checks: int, counter: StatementCounter) -> tuple[float, float, float]:
    """(statements, client CPU s, backend CPU s) per call of `what` over `checks` calls."""
    for _ in range(50):  # warm: statements prepared, caches filled
        what()
    counter.count = 0
    backend_before, client_before = backend_cpu(), time.process_time()
    for _ in range(checks):
        what()
    client = time.process_time() - client_before
    statements = counter.count
    backend = backend_cpu() - backend_before
    return statements / checks, client / checks, backend / checks


def check(key: str):
    from rest_framework.exceptions import APIException

    from healix.api.auth import verified_key

    def run() -> None:
        # Refused (401) or throttled (429): what a guess costs is measured too.
        with contextlib.suppress(APIException):
            verified_key(key, CLIENT)

    return run


def bare_round_trip() -> None:
    from healix.prepared import prepared_cursor

    with prepared_cursor() as cursor:
        cursor.execute("SELECT 1", prepare=True)
        cursor.fetchone()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=3000)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    from healix.models import Organization, OrganizationAPIKey

    call_command("migrate", verbosity=0)
    settings.HEALIX_API_RATE_PER_MINUTE = 10**9  # counted, never refused
    org, _ = Organization.objects.get_or_create(slug="bench-auth", defaults={"name": "Bench"})
    _row, key = OrganizationAPIKey.objects.create_key(organization=org, name="bench")
    prefix = key.partition(".")[0]
    counter = StatementCounter()
    stack.callback(counter.close)
    cases = {
        "right key": check(key),
        "wrong secret, the key's prefix": check(f"{prefix}.not-the-secret-at-all-0000000"),
        "unknown prefix": check("Zz9Zz9Zz.not-a-key-at-all-000000000000"),
    }
    floor_statements, floor_client, floor_backend = measure(bare_round_trip, args.checks, counter)
    floor = floor_client + floor_backend
    figures = []
    for name, what in cases.items():
        statements, client, backend = measure(what, args.checks, counter)
        print(
            f"{name:32} {statements:.2f} statements, CPU {client * 1e6:.0f} µs here + "
            f"{backend * 1e6:.0f} µs in PostgreSQL per check"
        )
        figures += [
            Figure(f"key check, {name}: statements", statements, "statements"),
            Figure(
                f"key check, {name}: checks per CPU second",
                1 / (client + backend),
                "checks/s",
                ceiling=1 / floor,
            ),
        ]
    print(
        f"{'bare prepared round trip':32} {floor_statements:.2f} statements, CPU "
        f"{floor_client * 1e6:.0f} µs here + {floor_backend * 1e6:.0f} µs in PostgreSQL"
    )
    return figures


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
