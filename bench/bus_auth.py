"""Benchmark of bus access with an API key: connects through the auth callout, and the
revocation sweep.

    .venv/bin/python bench/bus_auth.py [--connects 300] [--concurrency 10] [--open 200]

Starts an embedded PostgreSQL and nats-server (dev/servers.py, auth callout enabled)
unless DATABASE_URL / NATS_URL name servers, and `manage.py bus_auth` as a real process. Then:

1. connects: --connects partner connections (API key as token), --concurrency at a time, each
   connect-then-close: connects/s and latency percentiles, which include the key's check
   (database), the count of the key's connections (CONNZ), its consumer's creation
   (JetStream) and the JWTs; and the CPU each connect costs bus_auth and nats-server, which
   unlike the rate does not move with the machine's other load;
2. sweep: with --open partner connections open, the time of one revocation sweep (CONNZ of
   the partners' account, one database query): what a sweep costs every period.

No target: the figures tell how many partner (re)connects per second one bus_auth serves, and
that a sweep stays far below its period (10 s).
"""

import argparse
import asyncio
import os
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

from bench.common import Figure, percentile, standalone  # noqa: E402

DATABASE = "healix_bench"
# Seconds bus_auth may take to start, and any phase to finish, before the benchmark gives up.
PHASE_TIMEOUT = 120.0


def setup_keys(count: int) -> list[str]:
    from healix.api.scopes import Scope
    from healix.models import Organization, OrganizationAPIKey

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = Organization.objects.create(slug=slug, name="Benchmark")
    scopes = [Scope.INBOUND_WRITE, Scope.EVENTS_READ]
    return [
        OrganizationAPIKey.objects.create_key(organization=org, name=f"k{n}", scopes=scopes)[1]
        for n in range(count)
    ]


def start_bus_auth(logs: Path, stack: ExitStack) -> subprocess.Popen:
    log = logs / "bus_auth.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "bus_auth"],
            cwd=BASE_DIR,
            env={**os.environ, "HEALIX_BUS_REVOCATION_CHECK_SECONDS": "3600"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(PHASE_TIMEOUT)

    stack.callback(stop)
    deadline = time.monotonic() + PHASE_TIMEOUT
    while "bus_auth started" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bus_auth did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds spent so far by these processes: what a phase cost them, unlike wall-clock
    time, does not depend on what else the machine runs."""
    import psutil

    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def nats_server_pids() -> list[int]:
    """The throwaway nats-server this process started (none if NATS_URL named one)."""
    import psutil

    return [p.pid for p in psutil.Process().children() if p.name() == "nats-server"]


async def connects(url: str, keys: list[str], total: int, concurrency: int) -> list[float]:
    import nats

    latencies: list[float] = []
    slots = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        key = keys[n % len(keys)]
        async with slots:
            started = time.perf_counter()
            nc = await nats.connect(url, token=key, allow_reconnect=False, connect_timeout=10)
            latencies.append(time.perf_counter() - started)
            await nc.close()

    await asyncio.gather(*(one(n) for n in range(total)))
    return latencies


async def sweep_time(url: str, keys: list[str], count: int) -> tuple[float, int]:
    import nats
    from django.conf import settings

    from bus.connections import ConnectionWatch

    clients = [
        await nats.connect(url, token=keys[n % len(keys)], allow_reconnect=False)
        for n in range(count)
    ]
    system = await nats.connect(settings.HEALIX_BUS_SYSTEM_NATS_URL)
    try:
        started = time.perf_counter()
        closed = await ConnectionWatch(system, asyncio.get_running_loop()).sweep()
        return time.perf_counter() - started, closed
    finally:
        await system.close()
        for client in clients:
            await client.close()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connects", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--open", type=int, default=200, help="connections during the sweep")
    parser.add_argument("--keys", type=int, default=20, help="distinct API keys")
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("setup_streams", verbosity=0)
    keys = setup_keys(args.keys)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    bus_auth = start_bus_auth(logs, stack)
    servers = nats_server_pids()
    url = settings.HEALIX_BUS_PUBLIC_URL
    print(f"partners connect to {url}; {os.cpu_count()} CPUs, logs in {logs}\n")
    cpu_before = cpu_seconds([bus_auth.pid]), cpu_seconds(servers)
    started = time.perf_counter()
    latencies = asyncio.run(connects(url, keys, args.connects, args.concurrency))
    elapsed = time.perf_counter() - started
    callout_cpu = (cpu_seconds([bus_auth.pid]) - cpu_before[0]) / args.connects
    server_cpu = (cpu_seconds(servers) - cpu_before[1]) / args.connects
    print(
        f"connects {args.connects / elapsed:,.0f}/s through the callout "
        f"({args.connects} connects, {args.concurrency} at a time, {args.keys} keys)"
    )
    print(
        f"         latency p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"         CPU per connect: bus_auth {callout_cpu * 1000:.2f} ms, "
        f"nats-server {server_cpu * 1000:.2f} ms"
        + ("" if servers else " (not measured: NATS_URL names a server of its own)")
    )
    seconds, closed = asyncio.run(sweep_time(url, keys, args.open))
    print(
        f"sweep    {seconds * 1000:.0f} ms for {args.open} open connections "
        f"({closed} closed; includes the wait for every server's answer)"
    )
    return [
        Figure(
            f"bus connects with an API key, {args.concurrency} at a time (bus_auth.py)",
            args.connects / elapsed,
            "connects/s",
        ),
        Figure("bus connect latency p95", percentile(latencies, 0.95) * 1000, "ms"),
        Figure("bus_auth CPU per connect", callout_cpu * 1000, "ms"),
        Figure(f"bus revocation sweep, {args.open} connections open", seconds * 1000, "ms"),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
