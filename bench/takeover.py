"""Standby takeover (issue 19, item 3): how long the outbox waits when the active relay dies, and
beat's schedule when the active beat dies.

    env -u DATABASE_URL -u NATS_URL .venv/bin/python bench/takeover.py [--rounds 5] [--rate 100]

Starts a throwaway PostgreSQL and a three-node NATS cluster (dev/nats_cluster.py), and two
"hosts" a and b, each a relay (`manage.py relay_events`) and a beat (`celery beat`) with a var/
folder of its own, as on two machines. Events are written to the outbox at --rate per second
throughout. Each round SIGKILLs the active relay and the active beat (those holding their
advisory locks, healix/leader.py), measures, then starts them again as the standbys of the next
round. Figures, median and worst of the rounds:

- relay takeover: from the kill to the next event published (its publication's published_at,
  PostgreSQL's clock on both sides), and the most events left waiting in the outbox meanwhile;
- beat takeover: from the kill to the other beat holding the lock (its log, read every 0.1 s,
  so this one is 0.1 s coarse); it then sends what its schedule says is due.

The "ceiling" beside each is the bound the settings give it with no traffic to wake anyone:
a standby relay tries for the lock at each commit's NOTIFY and at least every
HEALIX_EVENTS_RELAY_SWEEP_SECONDS; a standby beat every HEALIX_BEAT_STANDBY_SECONDS.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BASE_DIR,
    Figure,
    percentile,
    production_environment,
    standalone,
    wait_until,
)

DATABASE = "bench_takeover"
HOSTS = ("a", "b")
# Seconds a round waits for a takeover before it gives up.
TAKEOVER_TIMEOUT = 60.0
# What the relay and beat log once they hold their lock, and while they stand by.
ACTIVE = ": active"
STANDING_BY = ": standing by"
COMMANDS = {
    "relay": [sys.executable, "manage.py", "relay_events"],
    "beat": [sys.executable, "-m", "celery", "-A", "healix.celery", "beat", "-l", "INFO"],
}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s written throughout")
    return parser


def environment(_args: argparse.Namespace) -> dict[str, str]:
    """A three-node cluster for the bench's NATS_URL (with_servers then starts no server)."""
    from dev.nats_cluster import NatsCluster

    folder = Path(tempfile.mkdtemp(prefix="bench-takeover-nats-"))
    atexit.register(shutil.rmtree, folder, True)
    cluster = NatsCluster(folder)
    atexit.register(cluster.stop)  # first: atexit runs last registered first
    cluster.start()
    return {**cluster.environment(), "HEALIX_EVENTS_REPLICAS": "3"}


class Host:
    """One host's relay and beat: their own var/ folder, the shared database and cluster."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        # INFO: the lock taken is read from their logs.
        self.env = {
            **production_environment(),
            "HEALIX_VAR_DIR": str(self.folder),
            "LOG_LEVEL": "INFO",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.starts = 0

    def start(self, kind: str) -> None:
        self.starts += 1
        log = self.folder / f"{kind}-{self.starts}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                COMMANDS[kind],
                cwd=BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log = log
        self.processes[kind] = process

    def said(self, kind: str, what: str) -> bool:
        process = self.processes.get(kind)
        return process is not None and what in process.log.read_text(errors="replace")

    def is_active(self, kind: str) -> bool:
        return self.said(kind, ACTIVE)

    def kill(self, kind: str) -> None:
        process = self.processes.pop(kind)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for kind in list(self.processes):
            self.kill(kind)


class Writer(threading.Thread):
    """Outbox events at `rate` per second, each in a transaction of its own as services commit
    them, until stopped."""

    def __init__(self, rate: float) -> None:
        super().__init__(daemon=True)
        self.rate = rate
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connection, transaction

        import events
        from bench.events import make_plans
        from events import EventType

        try:
            actor, plans = make_plans()
            started = time.monotonic()
            n = 0
            while not self.stopped.is_set():
                pause = started + n / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                with transaction.atomic():
                    events.emit(
                        EventType.PLAN_UPDATED,
                        actor=actor,
                        plan=plans[n % len(plans)],
                        changes={"risk_status": ("", f"t{n}")},
                    )
                n += 1
        except BaseException as error:
            self.error = error
        finally:
            connection.close()


def query(sql: str) -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def active_host(hosts: list[Host], kind: str) -> Host:
    """The host whose `kind` is active, once the other's stands by."""
    wait_until(
        lambda: (
            sorted(host.is_active(kind) for host in hosts) == [False, True]
            and all(host.said(kind, STANDING_BY) or host.is_active(kind) for host in hosts)
        ),
        f"one {kind} active, one standing by",
        TAKEOVER_TIMEOUT,
    )
    return next(host for host in hosts if host.is_active(kind))


def relay_round(hosts: list[Host]) -> tuple[float, int]:
    """Kill the active relay; seconds until the next event is published, and the most events
    waiting meanwhile."""
    host = active_host(hosts, "relay")
    host.kill("relay")
    (killed_at,) = query("SELECT clock_timestamp()")
    waiting = 0
    deadline = time.monotonic() + TAKEOVER_TIMEOUT
    while True:
        unpublished, latest = query(
            "SELECT (SELECT count(*) FROM events_outboxpending), "
            "(SELECT max(published_at) FROM events_outboxpublication)"
        )
        waiting = max(waiting, unpublished)
        if latest is not None and latest > killed_at:
            break
        if time.monotonic() > deadline:
            raise SystemExit("no relay took over")
        time.sleep(0.005)
    host.start("relay")  # the standby of the next round
    return (latest - killed_at).total_seconds(), waiting


def beat_round(hosts: list[Host]) -> float:
    """Kill the active beat; seconds until the other holds the lock."""
    host = active_host(hosts, "beat")
    other = next(h for h in hosts if h is not host)
    host.kill("beat")
    killed = time.monotonic()
    wait_until(lambda: other.is_active("beat"), "beat", TAKEOVER_TIMEOUT)
    seconds = time.monotonic() - killed
    host.start("beat")
    return seconds


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("setup_streams", verbosity=0)
    folder = Path(tempfile.mkdtemp(prefix="bench-takeover-"))
    stack.callback(shutil.rmtree, folder, True)
    hosts = [Host(name, folder) for name in HOSTS]
    stack.callback(lambda: [host.stop() for host in hosts])
    for host in hosts:
        host.start("relay")
        host.start("beat")
    writer = Writer(args.rate)
    writer.start()
    stack.callback(writer.stopped.set)
    relay_seconds, waiting, beat_seconds = [], [], []
    for n in range(args.rounds):
        seconds, most = relay_round(hosts)
        relay_seconds.append(seconds)
        waiting.append(most)
        beat_seconds.append(beat_round(hosts))
        print(
            f"round {n + 1}: relay {seconds * 1000:.0f} ms ({most} waiting), "
            f"beat {beat_seconds[-1]:.2f} s",
            flush=True,
        )
    writer.stopped.set()
    writer.join()
    if writer.error is not None:
        raise writer.error
    relay_bound = settings.HEALIX_EVENTS_RELAY_SWEEP_SECONDS * 1000
    relay_ms = [seconds * 1000 for seconds in relay_seconds]
    beat_bound = settings.HEALIX_BEAT_STANDBY_SECONDS
    return [
        Figure("relay takeover, median", percentile(relay_ms, 0.5), "ms", relay_bound),
        Figure("relay takeover, worst", max(relay_ms), "ms", relay_bound, max_share=1.0),
        Figure(f"outbox waiting at {args.rate:.0f} events/s, worst", max(waiting), "events"),
        Figure("beat takeover, median", percentile(beat_seconds, 0.5), "s", beat_bound),
        # 10 % over the bound: beat's own tick and the bench's 0.1 s look at its log.
        Figure("beat takeover, worst", max(beat_seconds), "s", beat_bound, max_share=1.1),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE, environment))
