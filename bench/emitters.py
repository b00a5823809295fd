"""Events made at a steady rate by several processes, for the latency phases of bench/events.py
and bench/webhooks.py (issue 20.5).

One process's service calls cannot keep 500 events/s on a 2-core machine: each waits for its
commit's flush, and Python's lock keeps threads of one process from overlapping the rest. So
EMITTERS processes share the schedule (process i makes events i, i + EMITTERS, ...), each with
its own share of the plans (no two processes wait for the same plan's row lock),
open loop (a late event does not delay the next ones' times). Each process is up, Django set
up and its plans loaded, before the common start time is handed out, so the start-up is not
counted against the rate. They run with DEBUG off, as production: with DEBUG on, Django keeps
every query of the process in memory. More processes do not help past the cores: an
update_plan call (5 statements: BEGIN, the plan's locked read, its UPDATE, the outbox INSERT,
COMMIT) costs its process about 1.1 ms of CPU and PostgreSQL about 0.7 ms (one process, no
profiler, 2026-12-04), so 500 calls a second take about one of the 2 cores, beside the relay,
NATS and the subscriber; when other work holds them, the rate is not reached and the figure
says so.

`how`: "services" calls plans.services.update_plan (all its checks and its audit row);
"emit" writes the same event with events.emit() in a transaction of its own (what each
service adds to its transaction). Each process writes every event's id and the time its
transaction committed; the rate reached is reported beside every latency measured with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["EMITTERS", "MIN_RATE_SHARE", "Emitted", "emit_at_rate"]

# Emitter processes: enough that commits waiting for their flush overlap the others' work.
# At 500 events/s through the services, 3 processes fell 0.4 s behind over 5 s (92 % of the
# rate: each queues behind its own calls); 5 held 96 to 97 % (2026-12-04, load average 2.3).
EMITTERS = 5
# A latency phase whose emitters fell short of this share of the asked rate measured another
# load: its figure is marked invalid.
MIN_RATE_SHARE = 0.95
# Seconds between the last emitter being ready and the first event.
START_DELAY = 0.5
CLOCKS = {"monotonic": time.monotonic, "wall": time.time}


@dataclass(frozen=True)
class Emitted:
    committed: dict[str, float]  # event id -> when its transaction committed (the clock asked)
    rate: float  # events/s reached, from the start to the last commit
    asked: float

    @property
    def at_rate(self) -> bool:
        return self.rate >= MIN_RATE_SHARE * self.asked

    def label(self) -> str:
        """The rate reached, for a figure's name: the load a latency was measured under."""
        return f"{self.rate:,.0f}/s reached"


def emit_at_rate(
    how: str,
    username: str,
    rate: float,
    seconds: float,
    clock: str = "monotonic",
    processes: int = EMITTERS,
) -> Emitted:
    """Make `rate` x `seconds` planUpdated events in the organization of user `username` (its
    plans, in pk order), from `processes` processes; times from `clock` ("monotonic": shared by
    all processes of the machine; "wall": time.time(), for a receiver that keeps wall times)."""
    from bench.common import production_environment

    scratch = Path(tempfile.mkdtemp(prefix="bench-emitters-"))
    environment = {**production_environment(), "DJANGO_SETTINGS_MODULE": "healix.settings"}
    arguments = [sys.executable, __file__, how, username, str(rate), str(seconds)]
    children = [
        subprocess.Popen(
            [*arguments, str(index), str(processes), clock, str(scratch / f"{index}.txt")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for index in range(processes)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready", "an emitter failed to start"
    start = CLOCKS[clock]() + START_DELAY
    for child in children:
        child.stdin.write(f"{start}\n")
        child.stdin.close()
    for child in children:
        assert child.wait() == 0, "an emitter failed"
    committed: dict[str, float] = {}
    for index in range(processes):
        for line in (scratch / f"{index}.txt").read_text().splitlines():
            event_id, at = line.split()
            committed[event_id] = float(at)
    for path in scratch.iterdir():
        path.unlink()
    scratch.rmdir()
    reached = len(committed) / (max(committed.values()) - start) if committed else 0.0
    return Emitted(committed, reached, rate)


def emitter_main(argv: list[str]) -> None:
    """One emitter process: every `processes`-th event of the schedule from `index`."""
    how, username, rate, seconds, index, processes, clock, out = argv
    rate, seconds, index, processes = float(rate), float(seconds), int(index), int(processes)
    import django

    django.setup()
    from django.db import transaction

    import events
    from events import EventType, outbox
    from healix.models import User
    from plans import services
    from plans.models import Plan

    actor = User.objects.select_related("organization").get(username=username)
    plans = list(Plan.objects.filter(organization=actor.organization).order_by("pk"))
    mine = plans[index::processes]  # no other emitter locks these
    emitted = {}
    encode = outbox.encode_envelope

    def recording_encode(envelope):  # the event's id, without a query to find it again
        emitted["event_id"] = envelope["eventId"]
        return encode(envelope)

    outbox.encode_envelope = recording_encode
    now = CLOCKS[clock]
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    lines = []
    for n in range(index, int(rate * seconds), processes):
        delay = start + n / rate - now()  # open loop: lateness does not add up
        if delay > 0:
            time.sleep(delay)
        plan = mine[(n // processes) % len(mine)]
        if how == "services":
            services.update_plan(actor=actor, plan=plan, risk_status=f"{how}{n}")
        else:
            with transaction.atomic():
                events.emit(
                    EventType.PLAN_UPDATED,
                    actor=actor,
                    plan=plan,
                    changes={"risk_status": ("", f"{how}{n}")},
                )
        lines.append(f"{emitted['event_id']} {now()}")
    Path(out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
    emitter_main(sys.argv[1:])
