"""Benchmark of tenant isolation on the bus: how much one organization's flood slows another.

    env -u DATABASE_URL -u NATS_URL .venv/bin/python bench/isolation.py \\
        [--flood 50000] [--rate 20] [--quiet-seconds 10]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers, and as many `manage.py consume_bus` processes as `make run`. Two
organizations, each with the demo template and its plans. Organization B publishes --rate
inbound messages a second, each asking for Healix's answer (Healix-Reply-To, sent after the
commit); its delay is publish to answer, that is publish to accepted:

1. quiet (the ceiling): B alone for --quiet-seconds;
2. flood: organization A publishes --flood messages at once (10 % copies, as bench/ingest.py)
   while B goes on, until A's last message is a committed row.

Figure: B's p99 during the flood against B's p99 when quiet, same run. Target (issue 15.5):
at most 3x.
"""

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, percentile, standalone  # noqa: E402
from bench.ingest import (  # noqa: E402
    SUBJECT,
    bodies,
    make_streams,
    publish,
    rows_done,
    setup_organization,
    start_consume_bus,
)
from dev.launcher import BUS_PROCESSES  # noqa: E402

DATABASE = "healix_bench_isolation"
# Seconds B waits for an answer before it counts as lost (the figure is then invalid).
ANSWER_TIMEOUT = 60.0
# Fewest delays during the flood that make a p99 worth printing.
MIN_SAMPLES = 50


class Neighbour:
    """Organization B's partner: --rate messages a second, each with its own answer inbox."""

    def __init__(self, url: str, org_slug: str, plan_ids: list[str], rate: float) -> None:
        self.url = url
        self.subject = f"healix.{org_slug}.inbound.{SUBJECT}"
        self.inbox_prefix = f"_INBOX.{org_slug}.bench"  # an inbox of B (bus/inbound.py)
        self.plan_ids = plan_ids
        self.interval = 1 / rate
        self.sent: dict[str, float] = {}
        self.delays: dict[str, float] = {}

    async def publish_until(self, done: threading.Event | asyncio.Event) -> None:
        import nats

        from bus.inbound import REPLY_HEADER

        nc = await nats.connect(self.url, inbox_prefix=self.inbox_prefix)
        try:
            await nc.subscribe(f"{self.inbox_prefix}.*", cb=self._answered)
            js, number = nc.jetstream(), len(self.sent)
            next_at = time.perf_counter()
            while not done.is_set():
                inbox = nc.new_inbox()
                plan_id = self.plan_ids[number % len(self.plan_ids)]
                body = json.dumps({"planId": plan_id, "timeSlot": f"b-{uuid.uuid4().hex}"})
                self.sent[inbox] = time.perf_counter()
                await js.publish(self.subject, body.encode(), headers={REPLY_HEADER: inbox})
                number += 1
                next_at += self.interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            deadline = time.perf_counter() + ANSWER_TIMEOUT
            while len(self.delays) < len(self.sent) and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await nc.close()

    async def _answered(self, msg) -> None:
        sent = self.sent.get(msg.subject)
        if sent is not None and msg.subject not in self.delays:
            self.delays[msg.subject] = time.perf_counter() - sent

    def take(self) -> tuple[list[float], int]:
        """The delays so far (seconds), and how many messages got no answer; then forget."""
        delays, lost = list(self.delays.values()), len(self.sent) - len(self.delays)
        self.sent, self.delays = {}, {}
        return delays, lost


async def quiet(neighbour: Neighbour, seconds: float) -> None:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    await neighbour.publish_until(done)


def publish_flood(url: str, subject: str, messages: list[bytes]) -> None:
    """In a process of its own, as A's partner is: sharing B's event loop would slow B's
    publishing and answers, not Healix's."""
    asyncio.run(publish(url, subject, messages))


async def flood(neighbour: Neighbour, url: str, org, plan_ids: list[str], count: int) -> float:
    """A's flood while B goes on; seconds from the flood's start until its last row."""
    subject = f"healix.{org.slug}.inbound.{SUBJECT}"
    flooder = multiprocessing.get_context("spawn").Process(
        target=publish_flood, args=(url, subject, bodies(plan_ids, count, seed=2))
    )
    flooded = threading.Event()
    started = time.perf_counter()

    def wait_for_rows() -> None:
        from django.db import connection

        try:
            while rows_done(org) < count:
                time.sleep(0.1)
        finally:
            connection.close()
            flooded.set()

    flooder.start()
    threading.Thread(target=wait_for_rows, daemon=True).start()
    await neighbour.publish_until(flooded)
    flooder.join()
    return time.perf_counter() - started


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flood", type=int, default=50_000, help="organization A's messages")
    parser.add_argument("--rate", type=float, default=20.0, help="B's messages a second")
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--consumers", type=int, default=BUS_PROCESSES)
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    flooder, flooder_plans, _key = setup_organization()
    neighbour_org, neighbour_plans, _key = setup_organization()
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    make_streams(flooder, neighbour_org)
    start_consume_bus(stack, logs, args.consumers)
    neighbour = Neighbour(settings.NATS_URL, neighbour_org.slug, neighbour_plans, args.rate)

    asyncio.run(quiet(neighbour, args.quiet_seconds))
    calm, calm_lost = neighbour.take()
    took = asyncio.run(flood(neighbour, settings.NATS_URL, flooder, flooder_plans, args.flood))
    stormy, stormy_lost = neighbour.take()
    calm_p99, stormy_p99 = percentile(calm, 0.99), percentile(stormy, 0.99)
    print(
        f"quiet    B's p50 {percentile(calm, 0.5) * 1000:.1f} ms, p99 {calm_p99 * 1000:.1f} ms "
        f"({len(calm)} messages, {calm_lost} unanswered)\n"
        f"flood    A's {args.flood:,} messages ingested in {took:.1f}s "
        f"({args.flood / took:,.0f}/s); B's p50 {percentile(stormy, 0.5) * 1000:.1f} ms, "
        f"p99 {stormy_p99 * 1000:.1f} ms ({len(stormy)} messages, {stormy_lost} unanswered)"
    )
    valid = not (calm_lost or stormy_lost) and len(stormy) >= MIN_SAMPLES
    return [
        Figure(
            f"B's p99 publish-to-accepted during A's {args.flood:,} flood (isolation.py)",
            stormy_p99 * 1000,
            "ms",
            ceiling=calm_p99 * 1000,
            max_share=3.0,
            valid=valid,
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
