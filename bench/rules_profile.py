"""Where a plan evaluation's time goes, next to the engine alone (issue 20.4).

    .venv/bin/python bench/rules_profile.py [--plans 10000]

Starts throwaway servers as every bench script does, builds bench/rules.py's template, table
and plans, then runs `evaluate_plans` over every plan in batches of 500, one thread, as a
worker process does, three times:

1. without a profiler: plan evaluations/s, and the CPU a plan costs this process and its
   PostgreSQL backend (on one thread the two take turns, so together they are the wall time);
2. under cProfile with a CPU clock (waiting for PostgreSQL is not counted): this process's
   CPU a plan by step of `evaluate_plans`, the engine's share being what the ceiling measures.

The first pass (not measured) fires the rare rows' actions; the measured passes evaluate the
same plans again, as bench/rules.py's one-thread figure does.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, standalone

DATABASE = "healix_bench_rules_profile"
BATCH = 500
# The steps of evaluate_plans, by the function that does each (cumulative CPU, so a step's
# queries are in it); what is left is locking the plans, the commit and the calls' glue.
STEPS = (
    ("rules/data.py", "load_plan_data", "loading the plans' data (2 queries)"),
    ("rules/engine.py", "evaluate_rows", "the engine (what the ceiling measures)"),
    ("rules/actions.py", "run_actions", "the fired rows' actions"),
    ("rules/services.py", "_record", "the audit record: its rows' JSON, the model"),
    ("rules/audit.py", "insert_evaluations", "the audit record: COPY (ids, encoding)"),
    ("healix/observability/metrics.py", "count_evaluations", "metrics"),
    ("rules/evaluation_log.py", "log_evaluations", "log lines (after the commit)"),
    ("rules/tables.py", "compiled_table", "compiling the table (every TTL)"),
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plans", type=int, default=10_000)
    return parser


def evaluate_every_plan(template, plans) -> None:
    from rules.models import Trigger
    from rules.services import PlanTrigger, evaluate_plans

    trigger = PlanTrigger(Trigger.ON_CHANGE, {"bench": "profile"})
    for offset in range(0, len(plans), BATCH):
        evaluate_plans(template, plans[offset : offset + BATCH], trigger)


def backend_cpu() -> float:
    """CPU seconds so far of this connection's PostgreSQL backend."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def steps(profile: cProfile.Profile, count: int) -> list[tuple[str, float]]:
    """(step, CPU microseconds a plan) for each of STEPS, then the rest."""
    stats = pstats.Stats(profile).stats
    found = {}
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
        for path, function, step in STEPS:
            if name == function and filename.endswith(path):
                found[step] = found.get(step, 0.0) + cumulative
    total = max(
        cumulative
        for (filename, _line, name), (_cc, _nc, _tt, cumulative, _c) in stats.items()
        if name == "evaluate_every_plan"
    )
    # _record and insert_evaluations nest no other step; neither do the others.
    rows = [(step, found.get(step, 0.0) * 1e6 / count) for _p, _f, step in STEPS]
    rest = total * 1e6 / count - sum(micro for _step, micro in rows)
    return [*rows, ("the rest: locking the plans, the commit, glue", rest)]


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.core.management import call_command

    from bench.rules import engine_alone, setup
    from plans.models import Plan

    call_command("migrate", verbosity=0)
    _org, template, plans = setup(args.plans)
    evaluate_every_plan(template, plans)  # fires the rare rows' actions, once
    Plan.objects.filter(template=template).update(risk_status="")
    evaluate_every_plan(template, plans)  # the same work as the measured passes below

    cpu, backend, started = time.process_time(), backend_cpu(), time.perf_counter()
    evaluate_every_plan(template, plans)
    wall = time.perf_counter() - started
    cpu, backend = time.process_time() - cpu, backend_cpu() - backend
    engine = 1 / engine_alone(template, plans)  # seconds a plan
    per_plan = 1e6 / len(plans)
    print(f"\n{len(plans)} plans, batches of {BATCH}, one thread, no profiler:")
    print(f"  {len(plans) / wall:,.0f} plan evaluations/s, {wall * per_plan:.0f} us a plan")
    print(
        f"  CPU a plan: this process {cpu * per_plan:.0f} us, "
        f"PostgreSQL {backend * per_plan:.0f} us"
    )
    print(f"  the engine alone: {engine * 1e6:.0f} us a plan ({1 / engine:,.0f} plans/s)")

    profile = cProfile.Profile(time.process_time)
    profile.enable()
    evaluate_every_plan(template, plans)
    profile.disable()
    print("\nthis process's CPU a plan under cProfile (a CPU clock), by step:")
    rows = steps(profile, len(plans))
    total = sum(micro for _step, micro in rows)
    for step, micro in rows:
        print(f"  {micro:6.0f} us {micro / total:4.0%}  {step}")
    return [
        Figure("rules, plan evaluations, one thread (rules_profile.py)", 1 / (wall / len(plans)),
               "plans/s", ceiling=1 / engine),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
