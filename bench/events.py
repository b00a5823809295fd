"""Benchmark of outgoing events: the relay's publish rate, its ceiling, and commit latency.

    .venv/bin/python bench/events.py [--events 10000] [--rate 500] [--seconds 10]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers. Then, in one run:

1. emit: --events events through plans.services (update_plan on rotating plans), relay off;
2. relay: one relay drains them: events/s from the first claim to the last mark;
3. ceiling: the same messages (fresh ids, so JetStream stores them) published by a bare
   nats-py loop with the relay's client settings (same batch size, same headers, async
   publishes then their acks), without the database or any relay code. Relay then ceiling,
   three rounds (the rows unpublished again with fresh ids between them); the medians;
4. latency: emitter processes (bench/emitters.py) emit at --rate events/s for --seconds,
   through the services and then through bare emit() calls, while `manage.py relay_events`
   runs; a JetStream subscriber (this process) times each event from the moment its
   transaction committed. Each figure's name gives the rate the emitters reached.

Targets (issue 3): relay >= 50 % of the ceiling and >= 5,000 events/s; p99 < 50 ms at 500/s,
checked on the emit() path (the relay's own latency). A latency phase counts only if its
emitters reached 95 % of the asked rate and every event arrived (else "(invalid)"); the exit
status is 1 when a target is not met.
"""

import argparse
import asyncio
import io
import os
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, percentile, standalone
from bench.emitters import EMITTERS, emit_at_rate
from dev import servers as devservers

DATABASE = "healix_bench"
# Plans the emitters rotate over: enough that per-plan locks rarely meet.
PLANS = 64
# Rounds of relay then ceiling; the figures are the medians.
ROUNDS = 3
# Issue 3: commit-to-JetStream p99 under 50 ms at 500 events/s.
P99_TARGET_SECONDS = 0.050


def main() -> int:
    return standalone(run, parser(), DATABASE)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--emitters", type=int, default=EMITTERS, help="emitter processes")
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("setup_streams", stdout=io.StringIO())
    actor, plans = make_plans()
    mark_published()  # the set-up's planCreated events are not part of the run
    print(f"PostgreSQL {os.environ['DATABASE_URL']}\nNATS {devservers.redacted(settings.NATS_URL)}")
    print(f"batch {settings.HEALIX_EVENTS_RELAY_BATCH}, {os.cpu_count()} CPUs\n")

    started = time.perf_counter()
    emit(actor, plans, args.events)
    emit_seconds = time.perf_counter() - started
    print(f"emit     {args.events} events via services in {emit_seconds:.1f}s "
          f"({args.events / emit_seconds:,.0f} events/s, one thread)")  # fmt: skip

    relay_rate, ceiling_rate = asyncio.run(relay_and_ceiling(args.events))
    share = relay_rate / ceiling_rate
    print(f"relay    {relay_rate:,.0f} events/s (outbox -> JetStream, acked and marked)")
    print(f"ceiling  {ceiling_rate:,.0f} events/s (bare nats-py loop, same messages and options)")
    print(f"         relay = {share:.0%} of the ceiling")

    figures = [
        Figure(
            "events relay, outbox -> JetStream (events.py)",
            relay_rate,
            "events/s",
            ceiling=ceiling_rate,
            at_least=5000,
            min_share=0.5,
        )
    ]
    for how in ("services", "emit"):
        latencies, emitted, missing = latency_run(
            actor, args.rate, args.seconds, how, args.emitters
        )
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        at_rate = emitted.at_rate and missing == 0
        print(
            f"latency  via {how:8}: {len(latencies)} events at {emitted.rate:,.0f}/s "
            f"(asked {args.rate:.0f}/s{'' if at_rate else ', NOT reached'}; {args.emitters} "
            f"emitters), commit -> "
            f"JetStream subscriber p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms"
        )
        # The target is the relay's: the emit() path carries it; through the services, their
        # own work is part of the latency (issue 3). Either is valid only at the asked rate.
        figures.append(
            Figure(
                f"events commit -> JetStream p99 at {args.rate:.0f}/s "
                f"({emitted.label()}), via {how}",
                p99 * 1000,
                "ms",
                at_most=P99_TARGET_SECONDS * 1000 if how == "emit" else None,
                valid=at_rate,
            )
        )
    return figures


def make_plans():
    from dev.demo import create_demo_template
    from healix.models import Organization, User, UserType
    from plans import services

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = Organization.objects.create(slug=slug, name="Benchmark")
    actor = User.objects.create(
        username=f"{slug}-admin", organization=org, user_type=UserType.ADMIN
    )
    patient = User.objects.create(username=f"{slug}-patient", organization=org)
    template = create_demo_template(org)
    plans = [
        services.assign_plan(actor=actor, template=template, user=patient) for _ in range(PLANS)
    ]
    return actor, plans


def emit(actor, plans, count: int, offset: int = 0) -> None:
    from plans import services

    for n in range(offset, offset + count):
        services.update_plan(actor=actor, plan=plans[n % len(plans)], risk_status=f"r{n}")


async def relay_and_ceiling(count: int) -> tuple[float, float]:
    """The relay's and the ceiling's events/s: the median of ROUNDS rounds, each the relay then
    the bare loop, so that a busy moment of the machine falls on one round, not on one side."""
    from django.conf import settings

    from events.models import OutboxEvent
    from events.relay import ClaimedEvent

    relay_rates, ceiling_rates = [], []
    for round_ in range(ROUNDS):
        if round_:  # the same rows again, with fresh ids (JetStream drops a repeated id)
            await asyncio.to_thread(republish_later, count)
        relay_rates.append(count / await relay_seconds(count))
        rows = await asyncio.to_thread(
            lambda: list(
                OutboxEvent.objects.order_by("-id").values_list("subject", "trace_id", "payload")[
                    :count
                ]
            )
        )
        events = [
            ClaimedEvent(n, subject, uuid.uuid4(), trace_id, payload)
            for n, (subject, trace_id, payload) in enumerate(reversed(rows))
        ]
        ceiling_rates.append(
            count / await bare_publish_loop(events, settings.HEALIX_EVENTS_RELAY_BATCH)
        )
        print(f"round {round_ + 1}: relay {relay_rates[-1]:,.0f}, ceiling {ceiling_rates[-1]:,.0f}")
    return statistics.median(relay_rates), statistics.median(ceiling_rates)


async def relay_seconds(count: int) -> float:
    """Seconds one relay takes to publish and mark the `count` waiting rows."""
    from events.relay import Relay, RelayConfig

    relay = Relay(RelayConfig.from_settings())
    try:
        await relay._nats()  # connected before the clock starts, as a running relay is
        started = time.perf_counter()
        published = await relay.drain()
        seconds = time.perf_counter() - started
        assert published == count, f"relay published {published} of {count}"
        return seconds
    finally:
        await relay.close()


def mark_published() -> None:
    """Every pending event recorded as published, without publishing it."""
    from django.db import connection

    from events.sql import PENDING, PUBLICATION

    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH done AS (DELETE FROM {PENDING} RETURNING id) INSERT INTO {PUBLICATION} "
            "(id, published_at, attempts) SELECT id, now(), 0 FROM done"
        )


def republish_later(count: int) -> None:
    """The last `count` outbox rows pending again, each with a new event id."""
    from django.db import connection, transaction

    from events.sql import PENDING, PUBLICATION, TABLE

    last = f"(SELECT max(id) FROM {TABLE}) - %s"
    with transaction.atomic(), connection.cursor() as cursor:
        fresh_ids = f"UPDATE {TABLE} SET event_id = gen_random_uuid() WHERE id > {last}"
        cursor.execute(fresh_ids, [count])
        cursor.execute(f"DELETE FROM {PUBLICATION} WHERE id > {last}", [count])
        cursor.execute(
            f"INSERT INTO {PENDING} (id, attempts, last_error) "
            f"SELECT id, 0, '' FROM {TABLE} WHERE id > {last} ON CONFLICT DO NOTHING",
            [count],
        )


async def bare_publish_loop(events, batch: int) -> float:
    """Seconds a plain nats-py JetStream loop takes to publish `events` (async publishes of a
    batch, then await its acks), with the relay's client options and headers."""
    import nats
    from django.conf import settings

    from events.relay import NATS_CLIENT_NAME
    from healix.observability.tracing import TRACE_HEADER

    nc = await nats.connect(settings.NATS_URL, name=NATS_CLIENT_NAME, max_reconnect_attempts=-1)
    js = nc.jetstream()
    try:
        started = time.perf_counter()
        for first in range(0, len(events), batch):
            acks = [
                await js.publish_async(
                    event.subject,
                    event.payload.encode(),
                    headers={"Nats-Msg-Id": str(event.event_id), TRACE_HEADER: event.trace_id},
                )
                for event in events[first : first + batch]
            ]
            await asyncio.gather(*acks)
        return time.perf_counter() - started
    finally:
        await nc.close()


def latency_run(actor, rate: float, seconds: float, how: str, processes: int = EMITTERS):
    """Emit at `rate` for `seconds` with `manage.py relay_events` running: commit -> subscriber
    latencies, what the emitters made (bench/emitters.py) and how many never arrived.

    Each part is a process of its own, as in production, so that no part waits for another's
    Python lock: the relay; the emitter processes, which write each event's id and commit time;
    and this process, which only subscribes. Times are CLOCK_MONOTONIC, which all processes of
    the machine share.
    """
    import json
    import signal
    import subprocess

    import nats
    from django.conf import settings

    received: dict[str, float] = {}
    state: dict = {}
    ready = threading.Event()

    async def subscribe() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        nc = await nats.connect(settings.NATS_URL)

        async def on_message(msg) -> None:
            received[json.loads(msg.data)["eventId"]] = time.monotonic()

        subject = f"healix.{actor.organization.slug}.planUpdated"
        await nc.jetstream().subscribe(
            subject, cb=on_message, ordered_consumer=True, deliver_policy="new"
        )
        ready.set()
        await state["stop"].wait()
        await nc.close()

    subscriber = threading.Thread(target=asyncio.run, args=(subscribe(),))
    subscriber.start()
    ready.wait()
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    # WARNING: its line per published event would flood the terminal (docs/logging.md).
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    relay = subprocess.Popen([*manage, "relay_events"], stdout=subprocess.PIPE, text=True, env=env)
    relay.stdout.readline()  # "relay ... started"
    time.sleep(1.0)  # it has swept once and listens

    emitted = emit_at_rate(how, actor.username, rate, seconds, processes=processes)
    committed = emitted.committed
    deadline = time.monotonic() + 30
    while len(received.keys() & committed.keys()) < len(committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    relay.send_signal(signal.SIGTERM)
    relay.communicate(timeout=30)
    state["loop"].call_soon_threadsafe(state["stop"].set)
    subscriber.join()
    missing = len(committed) - len(received.keys() & committed.keys())
    if missing:
        print(f"         ({missing} events not received within 30 s)")
    latencies = [
        at - committed[event_id] for event_id, at in received.items() if event_id in committed
    ]
    return latencies, emitted, missing


if __name__ == "__main__":
    sys.exit(main())
