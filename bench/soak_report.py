"""The soak run's report (bench/soak.py): a row a minute of rates, latencies, memory and the
pruned tables' rows, and the verdict at the end."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from bench.common import percentile
from bench.ingest import SUBJECT
from bench.soak_load import Load
from bench.webhooks import ReceiverProcess

# A process's RSS may differ this much between minute 2 and the last minute and still be flat:
# allocators keep freed memory and caches settle; a leak at this load grows past it.
MEMORY_TOLERANCE = 0.10

MIB = 2**20
# The longest retention period of bench/soak.py's RETENTION (3 minutes), a pruning period and
# a minute of margin: then the pruned tables are flat.
FLAT_FROM_MINUTE = 5
# A pruned table's rows may differ this much between FLAT_FROM_MINUTE and the last minute:
# beat prunes every 30 s, so the count saws by 30 s of arrivals around its level.
TABLE_TOLERANCE = 0.25
# The tables retention prunes, counted each minute: (column, model label, filter).
PRUNED_TABLES = (
    ("outbox", "events.OutboxEvent", {}),
    ("evaluations", "rules.RuleEvaluation", {}),
    ("deliveries", "integrations.WebhookDelivery", {}),
    ("attempts", "integrations.WebhookAttempt", {}),
    ("payloads", "integrations.InboundEvent", {"payload_pruned_at__isnull": True}),
)


def rss(pid: int) -> float:
    """MiB resident of a process and its children (0 once it is gone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total / MIB


@dataclass
class Counters:
    sent: int
    accepted: int
    duplicates: int
    evaluations: int
    published: int
    received: int


def counters(org, template, load: Load, received: int) -> Counters:
    from django.db.models import Count, Q, Sum

    from events.models import OutboxEvent
    from integrations.models import InboundEvent
    from rules.models import RuleEvaluation

    inbound = InboundEvent.objects.filter(organization=org, subject=SUBJECT).aggregate(
        accepted=Count("id", filter=Q(status="accepted")), duplicates=Sum("duplicate_count")
    )
    return Counters(
        sent=load.sent,
        accepted=inbound["accepted"],
        duplicates=inbound["duplicates"] or 0,
        # Retention deletes these rows: PostgreSQL's counts of rows inserted and updated
        # (the relay's publish marks) only grow. The soak's organization is the only one.
        evaluations=rows_written(RuleEvaluation, "n_tup_ins"),
        published=rows_written(OutboxEvent, "n_tup_upd"),
        received=received,
    )


def rows_written(model, counter: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics are read once per transaction unless asked fresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            f"SELECT {counter} FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


def table_rows() -> dict[str, int]:
    from django.apps import apps

    return {
        name: apps.get_model(label).objects.filter(**where).count()
        for name, label, where in PRUNED_TABLES
    }


class Latencies:
    """Send -> first webhook of the plan, from the receiver's record."""

    def __init__(self, load: Load) -> None:
        self.load = load
        self.seen_lines = 0
        self.done: dict[str, float] = {}

    def new(self, received: list[tuple[str, float]]) -> list[float]:
        from events.models import OutboxEvent

        fresh = received[self.seen_lines :]
        self.seen_lines = len(received)
        at_by_event = {event_id: at for event_id, at in fresh}
        plans = OutboxEvent.objects.filter(
            event_id__in=list(at_by_event), event_type="planUpdated"
        ).values_list("event_id", "plan_id")
        with self.load.lock:
            first_sent = dict(self.load.first_sent)
        out = []
        for event_id, plan_id in sorted(plans, key=lambda row: at_by_event[str(row[0])]):
            plan = str(plan_id)
            if plan in first_sent and plan not in self.done:
                self.done[plan] = at_by_event[str(event_id)] - first_sent[plan]
                out.append(self.done[plan])
        return out


def row_text(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


class Report:
    """The per-minute rows, and the verdict at the end."""

    def __init__(self, org, template, load: Load, receiver: ReceiverProcess, pids, start) -> None:
        self.org, self.template, self.load, self.receiver = org, template, load, receiver
        self.pids = pids
        self.latencies = Latencies(load)
        self.memory: list[dict[str, float]] = []
        self.tables: list[dict[str, int]] = []
        # The demo's own slot (load_demo) and anything else before the load.
        self.baseline = self.before = counters(org, template, load, 0)
        self.since = start
        self.pending: list[float] = []  # latencies seen between two rows
        print(
            row_text(
                ["min", "load", "sent/s", "accepted/s", "copies counted/s", "evaluations/s"]
                + ["published/s", "webhooks/s", "p50 ms", "p95 ms", "p99 ms"]
                + [f"{name} MiB" for name in pids]
                + [f"{name} rows" for name, _label, _where in PRUNED_TABLES]
            )
        )
        print(row_text(["---"] * (11 + len(pids) + len(PRUNED_TABLES))), flush=True)

    def row(self, label: str) -> None:
        received = self.receiver.received()
        now = counters(self.org, self.template, self.load, len(received))
        seconds, self.since = time.time() - self.since, time.time()
        fresh, self.pending = self.pending + self.latencies.new(received), []
        self.memory.append({name: rss(pid) for name, pid in self.pids.items()})
        rates = [
            (getattr(now, name) - getattr(self.before, name)) / seconds
            for name in ("sent", "accepted", "duplicates", "evaluations", "published", "received")
        ]
        self.before = now
        cells = [label, f"{os.getloadavg()[0]:.1f}", *(f"{rate:.1f}" for rate in rates)]
        cells += [f"{percentile(fresh, q) * 1000:.0f}" if fresh else "-" for q in (0.5, 0.95, 0.99)]
        cells += [f"{self.memory[-1][name]:.0f}" for name in self.pids]
        self.tables.append(table_rows())
        cells += [str(count) for count in self.tables[-1].values()]
        print(row_text(cells), flush=True)

    def verdict(self, minutes: float) -> int:
        load, done = self.load, self.latencies.done
        final = counters(self.org, self.template, load, len(self.receiver.received()))
        firsts = len(load.first_sent)
        accepted = final.accepted - self.baseline.accepted
        checks = {
            f"every first message accepted ({accepted} of {firsts})": accepted == firsts,
            f"every copy counted once ({final.duplicates} of {load.copies})": (
                final.duplicates - self.baseline.duplicates == load.copies
            ),
            f"every plan's webhook received ({len(done)} of {firsts})": len(done) == firsts,
            f"no failed sends ({load.failed or 'none'})": not load.failed,
        }
        print()
        for name, held in checks.items():
            print(f"{'ok    ' if held else 'FAILED'} {name}")
        if done:
            whole = list(done.values())
            print(
                "latency send -> webhook over the whole run: "
                + ", ".join(
                    f"p{q * 100:g} {percentile(whole, q) * 1000:.0f} ms" for q in (0.5, 0.95, 0.99)
                )
            )
        full = self.memory[: int(minutes)]  # the drain row is not a minute under load
        if len(full) < 3:
            print("memory: too short a run to judge (minute 2 and a later one are needed)")
            return 0 if all(checks.values()) else 1
        reference, last = full[1], full[-1]
        grew = [
            f"{name} {reference[name]:.0f} -> {last[name]:.0f} MiB"
            for name in self.pids
            # nats-server's and PostgreSQL's caches and buffers fill with data by design.
            if name not in ("nats", "postgres")
            and last[name] - reference[name] > MEMORY_TOLERANCE * reference[name]
        ]
        print(
            f"memory: {'GREW' if grew else 'FLAT'}: each Procfile process's RSS in minute "
            f"{len(full)} against minute 2, tolerance {MEMORY_TOLERANCE:.0%}"
            + (f"; grew: {', '.join(grew)}" if grew else "")
        )
        tables_grew = self.tables_verdict(int(minutes))
        return 0 if all(checks.values()) and not grew and not tables_grew else 1

    def tables_verdict(self, minutes: int) -> list[str]:
        """The pruned tables that grew past TABLE_TOLERANCE once their level was reached."""
        if minutes <= FLAT_FROM_MINUTE:
            print(f"tables: too short a run to judge (minute {FLAT_FROM_MINUTE + 1} is needed)")
            return []
        reference, last = self.tables[FLAT_FROM_MINUTE - 1], self.tables[minutes - 1]
        grew = [
            f"{name} {reference[name]} -> {last[name]} rows"
            for name in reference
            if last[name] > (1 + TABLE_TOLERANCE) * max(reference[name], 1)
        ]
        print(
            f"tables: {'GREW' if grew else 'FLAT'}: each pruned table's rows in minute "
            f"{minutes} against minute {FLAT_FROM_MINUTE}, tolerance {TABLE_TOLERANCE:.0%}"
            + (f"; grew: {', '.join(grew)}" if grew else "")
        )
        return grew
