"""Where a relayed event's time goes, between its outbox row and its JetStream ack (issue 20.3).

    .venv/bin/python bench/relay_profile.py [--events 20000] [--top 25]

Starts throwaway servers as every bench script does, writes --events planUpdated events with
events.emit() (100 a transaction), then runs under cProfile, in this process:

1. the relay draining them (events/relay.py: claim, publish, acks, mark), and
2. bench/events.py's ceiling, a bare nats-py loop publishing the same messages,

and prints, for each, the wall time and this process's CPU time, the profile's time by where
the code lives (the relay and Healix, psycopg, nats-py, asyncio, the rest of the standard
library) and the functions that spend the most of it themselves. cProfile's clock is the wall
clock: epoll's poll holds the time the process waits (for PostgreSQL, for the acks).
nats-server and PostgreSQL run in processes of their own: their share is that waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, standalone

DATABASE = "healix_bench_relay_profile"
# Where a function's file lives -> the part of the stack it belongs to (first match wins).
PARTS = (
    ("/nats/", "nats-py"),
    ("/psycopg", "psycopg"),
    ("/asyncio/", "asyncio"),
    ("/events/", "Healix: events (the relay)"),
    ("/healix/", "Healix: logs, traces, metrics"),
    ("/logging/", "logging"),
    ("/django/", "Django"),
    ("/json/", "json"),
    ("/python3", "standard library, other"),
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    return parser


def part_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "built-ins (C: sockets, select, encoding)"
    for marker, name in PARTS:
        if marker in filename:
            return name
    return "other"


def breakdown(profile: cProfile.Profile, wall: float, cpu: float, top: int) -> None:
    """Print the time by part and the top functions. cProfile's clock is the wall clock: a
    function waiting (epoll's poll for PostgreSQL's answers and the acks) counts its wait."""
    stats = pstats.Stats(profile)
    by_part: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_part[part_of(filename)] = by_part.get(part_of(filename), 0.0) + tottime
    total = sum(by_part.values())
    print(f"  wall {wall:.2f}s, CPU of this process {cpu:.2f}s (the rest is waiting)")
    for part, seconds in sorted(by_part.items(), key=lambda item: -item[1]):
        print(f"  {seconds:7.2f}s {seconds / total:5.0%}  {part}")
    stats.sort_stats("tottime").print_stats(top)


def servers() -> dict[str, list]:
    """The processes of this run's servers: the postmaster and its backends, nats-server."""
    from urllib.parse import unquote, urlsplit

    import psutil
    from django.conf import settings

    pgdata = unquote(settings.DATABASES["default"]["HOST"])  # its socket's folder
    postmaster = next(
        process
        for process in psutil.process_iter(["cmdline"])
        if "-D" in (process.info["cmdline"] or []) and pgdata in process.info["cmdline"]
    )
    nats_port = urlsplit(settings.NATS_URL).port
    nats = next(
        psutil.Process(connection.pid)
        for connection in psutil.net_connections("tcp")
        if connection.status == "LISTEN" and connection.laddr.port == nats_port
    )
    return {"postgres": [postmaster, *postmaster.children()], "nats-server": [nats]}


def cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process, PostgreSQL and nats-server. PostgreSQL's: the
    postmaster's own, its live backends' and, for the backends that ended (the relay's close
    at the end of its drain), what the postmaster collected from them."""
    seconds = {"this process (relay or loop)": time.process_time()}
    for name, (first, *others) in servers().items():
        times = first.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for process in others:
            try:
                times = process.cpu_times()
            except Exception:  # a backend that ended meanwhile: the postmaster counts it
                continue
            total += times.user + times.system
        seconds[name] = total
    return seconds


def cpu_between(before: dict[str, float], after: dict[str, float], events: int) -> str:
    return ", ".join(
        f"{name} {(after[name] - before[name]) * 1e6 / events:.0f} us" for name in before
    )


def write_events(count: int) -> None:
    from django.db import transaction

    import events
    from bench.events import make_plans, mark_published
    from events import EventType

    actor, plans = make_plans()
    mark_published()
    for first in range(0, count, 100):
        with transaction.atomic():
            for n in range(first, min(count, first + 100)):
                events.emit(
                    EventType.PLAN_UPDATED,
                    actor=actor,
                    plan=plans[n % len(plans)],
                    changes={"risk_status": ("", f"p{n}")},
                )


async def relay_drain() -> int:
    from events.relay import Relay, RelayConfig

    relay = Relay(RelayConfig.from_settings())
    try:
        await relay._nats()  # connected before the clock starts, as a running relay is
        return await relay.drain()
    finally:
        await relay.close()


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    import io

    from django.core.management import call_command

    from bench.events import bare_publish_loop
    from events.models import OutboxEvent
    from events.relay import ClaimedEvent

    call_command("migrate", verbosity=0)
    call_command("setup_streams", stdout=io.StringIO())
    write_events(args.events)
    plain = measure_cpu(args.events)

    profile = cProfile.Profile()
    started, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    published = asyncio.run(relay_drain())
    profile.disable()
    relay_wall, relay_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert published == args.events, f"published {published} of {args.events}"
    print(f"\nrelay: {published} events, {published / relay_wall:,.0f} events/s under cProfile")
    breakdown(profile, relay_wall, relay_cpu, args.top)

    rows = OutboxEvent.objects.order_by("-id").values_list("subject", "trace_id", "payload")
    events = [
        ClaimedEvent(n, subject, uuid.uuid4(), trace_id, payload)
        for n, (subject, trace_id, payload) in enumerate(reversed(rows[: args.events]))
    ]
    from django.conf import settings

    profile = cProfile.Profile()
    cpu = time.process_time()
    profile.enable()
    ceiling_wall = asyncio.run(bare_publish_loop(events, settings.HEALIX_EVENTS_RELAY_BATCH))
    profile.disable()
    ceiling_cpu = time.process_time() - cpu
    print(f"\nceiling: {len(events) / ceiling_wall:,.0f} events/s under cProfile")
    breakdown(profile, ceiling_wall, ceiling_cpu, args.top)
    per_event = 1e6 / args.events
    print(
        f"\nper event under cProfile: relay {relay_wall * per_event:.0f} us wall, "
        f"{relay_cpu * per_event:.0f} us CPU; ceiling {ceiling_wall * per_event:.0f} us wall, "
        f"{ceiling_cpu * per_event:.0f} us CPU"
    )
    print(plain)
    return []


def measure_cpu(count: int) -> str:
    """Without the profiler: the relay, then the bare loop, with each process's CPU per event
    (the waiting of a profile made visible as the servers' work)."""
    from django.conf import settings

    from bench.events import bare_publish_loop, republish_later
    from events.models import OutboxEvent
    from events.relay import ClaimedEvent

    lines = []
    before, started = cpu_seconds(), time.perf_counter()
    assert asyncio.run(relay_drain()) == count
    wall, after = time.perf_counter() - started, cpu_seconds()
    cpu = cpu_between(before, after, count)
    lines.append(f"relay    {count / wall:7,.0f} events/s, CPU an event: {cpu}")
    rows = OutboxEvent.objects.order_by("-id").values_list("subject", "trace_id", "payload")
    events = [
        ClaimedEvent(n, subject, uuid.uuid4(), trace_id, payload)
        for n, (subject, trace_id, payload) in enumerate(reversed(rows[:count]))
    ]
    before = cpu_seconds()
    wall = asyncio.run(bare_publish_loop(events, settings.HEALIX_EVENTS_RELAY_BATCH))
    after = cpu_seconds()
    cpu = cpu_between(before, after, count)
    lines.append(f"ceiling  {count / wall:7,.0f} events/s, CPU an event: {cpu}")
    republish_later(count)  # the profiled relay below publishes the same rows again
    return "\nwithout the profiler:\n" + "\n".join(lines)


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
