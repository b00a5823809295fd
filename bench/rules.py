"""Benchmark of the rules: plan evaluations per second, and inbound-event-to-action latency.

    env -u DATABASE_URL -u NATS_URL .venv/bin/python bench/rules.py [--plans 10000] [--latency 200]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers. Then:

1. setup (not measured): a template with a decision table of 50 rows x 8 value columns
   (plan attributes, custom fields, form data, an integration field, a calculated column),
   --plans plans, each with an intake submission and an inbound event;
2. evaluations: rules.services.evaluate_plans over every plan (batches of --batch), in this one
   process, exactly as a worker runs it: the table compiled once per batch, the plans locked,
   their data loaded in bulk, 50 rows evaluated, the fired rows' actions run through
   plans.services (about 1 % of plans fire an action) and every evaluation recorded;
   plan evaluations/s, first on one thread, then on --threads threads of the same process
   (each batch in its own transaction on its own connection, as a threaded worker runs
   tasks: the database's work on one batch overlaps the evaluation of another). The engine
   alone (no database) is printed for comparison;
3. latency: `manage.py consume_bus` and a Celery worker (real processes) run; --latency time
   slots are published one by one on NATS, each for a plan whose row fires; the time from the
   publish to the committed action (its planUpdated event's occurredAt): p50 and p99.

Target (issue 20): at least 25 % of the engine alone (its ceiling, measured in the same run),
checked on the one-thread figure (a prefork worker process runs one task at a time). Exits 1
if missed. The machine's other load moves every figure: run it on a quiet machine.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, percentile, standalone  # noqa: E402
from bench.ingest import make_streams  # noqa: E402
from dev import servers as devservers  # noqa: E402 (needs the project on sys.path)

DATABASE = "healix_bench_rules"
SUBJECT = "aiEngineTimeSlot"
ROWS = 50
MIN_SHARE = 0.25  # of the engine alone
PHASE_TIMEOUT = 300.0


def build_table(template) -> None:
    """8 columns and 50 rows; row 0 fires for plans whose slot says "fire" (the latency
    phase), row 1 for about 1 % of plans; the others hold on some cells and fail on one."""
    from rules.models import ActionKind, Rule, RuleAction, RuleColumn, Trigger

    columns = [
        ("risk", "plan.riskStatus", "", ""),
        ("score", "plan.score", "", ""),
        ("triage", "plan.triage", "", ""),
        ("started", "plan.startDate", "", ""),
        ("age", "submission.intake.age", "", ""),
        ("symptoms", "submission.intake.symptoms", "", ""),
        ("slot", f"integration.{SUBJECT}.timeSlot", "", ""),
        ("days", "", 'differenceInDays(now(), lastVal("plan.startDate"))', "number"),
    ]
    for position, (name, reference, expression, value_type) in enumerate(columns):
        RuleColumn.objects.create(
            template=template,
            position=position,
            name=name,
            reference=reference,
            expression=expression,
            value_type=value_type,
        )
    fire = Rule.objects.create(
        template=template,
        position=0,
        name="slot fires",
        trigger=Trigger.INTEGRATION,
        cells={"slot": "in[fire]", "risk": "!=scheduled"},
    )
    RuleAction.objects.create(
        rule=fire,
        kind=ActionKind.SET_DATA_POINT,
        target="plan.riskStatus",
        expression='"scheduled"',
    )
    rare = Rule.objects.create(
        template=template,
        position=1,
        name="one in a hundred",
        cells={"score": "=99", "risk": "!=flagged"},
    )
    RuleAction.objects.create(
        rule=rare, kind=ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"flagged"'
    )
    for position in range(2, ROWS):
        Rule.objects.create(
            template=template,
            position=position,
            name=f"row {position}",
            cells={
                "age": f"range[{position},{position + 40}]",
                "symptoms": "=fever" if position % 2 else "=cough",
                "triage": ["green", "amber", "red"][position % 3],
                "started": "<=2100-01-01",
                "days": ">=0",
                "score": f"<{position}",
                "slot": "!=never",
                "risk": "notIn[a,b]",
            },
        )


def setup(plan_count: int):
    """A template with its table and `plan_count` plans with their data, in bulk."""
    from django.db import connection
    from django.utils import timezone

    from dev.demo import create_demo_template
    from healix.models import Organization, User, UserType
    from integrations.models import InboundEvent
    from plans.models import FormAssignment, FormSubmission, Plan, RoleAssignment

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = Organization.objects.create(slug=slug, name="Benchmark")
    patient = User.objects.create(username=f"{slug}-p", organization=org, user_type=UserType.USER)
    template = create_demo_template(org)
    build_table(template)
    now = timezone.now()
    plans = Plan.objects.bulk_create(
        Plan(
            organization=org,
            template=template,
            user=patient,
            title=f"plan {n}",
            start_date=now - timedelta(days=n % 30),
            custom_fields={"score": n % 100, "triage": ["green", "amber", "red"][n % 3]},
        )
        for n in range(plan_count)
    )
    patient_role = template.roles.get(role_id="Patient")
    RoleAssignment.objects.bulk_create(
        RoleAssignment(organization=org, plan=plan, role=patient_role, user=patient)
        for plan in plans
    )
    intake = template.form_assignment_definitions.get(form__name="intake", role=patient_role)
    assignments = FormAssignment.objects.bulk_create(
        FormAssignment(
            organization=org, plan=plan, definition=intake, user=patient, status="SUBMITTED"
        )
        for plan in plans
    )
    FormSubmission.objects.bulk_create(
        FormSubmission(
            organization=org,
            assignment=assignment,
            data={"age": n % 90, "symptoms": ["fever"] if n % 2 else ["cough", "pain"]},
        )
        for n, assignment in enumerate(assignments)
    )
    InboundEvent.objects.bulk_create(
        InboundEvent(
            organization=org,
            subject=SUBJECT,
            source="rest",
            status="accepted",
            payload={"planId": str(plan.pk), "timeSlot": f"slot {n}"},
            payload_hash=uuid.uuid4().hex,
            plan_ids=[plan.pk],
        )
        for n, plan in enumerate(plans)
    )
    # A live database has its statistics (autovacuum keeps them); without them PostgreSQL
    # takes the new organization's 10,000 rows for none and plans its reads accordingly.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return org, template, plans


def evaluate_all(template, plans, batch: int, threads: int, detail: dict) -> float:
    """Evaluate every plan once in batches, on `threads` threads of this process (each with
    its own database connection, as a threaded worker runs tasks); plan evaluations/s."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from rules.models import Trigger
    from rules.services import PlanTrigger, evaluate_plans

    trigger = PlanTrigger(Trigger.ON_CHANGE, detail)

    def one(offset: int) -> None:
        try:
            evaluate_plans(template, plans[offset : offset + batch], trigger)
        finally:
            if threads > 1:
                connection.close()  # this thread's connection

    started = time.perf_counter()
    if threads == 1:
        for offset in range(0, len(plans), batch):
            one(offset)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(0, len(plans), batch)))
    return len(plans) / (time.perf_counter() - started)


def evaluation_rate(template, plans, batch: int, threads: int) -> tuple[float, float, float, int]:
    """(plan evaluations/s on one thread, on `threads` threads, of the engine alone, rows
    fired on the first pass)."""
    from plans.models import Plan
    from rules.models import RuleEvaluation

    rate = evaluate_all(template, plans, batch, 1, {"bench": "one thread"})
    fired = sum(
        len(fired_rules)
        for fired_rules in RuleEvaluation.objects.filter(template=template).values_list(
            "fired_rules", flat=True
        )
    )
    # The same work again: the rows that fired an action fire it again (not measured).
    Plan.objects.filter(template=template).update(risk_status="")
    threaded = evaluate_all(template, plans, batch, threads, {"bench": f"{threads} threads"})
    return rate, threaded, engine_alone(template, plans), fired


def engine_alone(template, plans) -> float:
    """The ceiling: plan evaluations/s of the engine alone, the same rows over the same data,
    already loaded."""
    from rules.compiler import compile_table
    from rules.data import load_plan_data
    from rules.engine import evaluate_rows
    from rules.languages.context import EvaluationContext
    from rules.models import Trigger

    table = compile_table(template)
    rules = table.rules_for(Trigger.ON_CHANGE)
    data = load_plan_data(plans, table.references(), table.catalog)
    contexts = [EvaluationContext(data=data[plan.pk]) for plan in plans]
    started = time.perf_counter()
    for context in contexts:
        evaluate_rows(table, rules, context)
    return len(plans) / (time.perf_counter() - started)


def start_process(command: list[str], log: Path, ready: str) -> subprocess.Popen:
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + PHASE_TIMEOUT
    while ready not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{command[:3]} did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return process


async def publish_slots(url: str, subject: str, plan_ids: list[str], spacing: float) -> dict:
    """Publish one slot per plan, `spacing` seconds apart; {plan id: publish time}."""
    import nats

    nc = await nats.connect(url)
    sent = {}
    try:
        js = nc.jetstream()
        for plan_id in plan_ids:
            body = json.dumps({"planId": plan_id, "timeSlot": "fire"}).encode()
            sent[plan_id] = time.time()
            await js.publish(subject, body)
            await asyncio.sleep(spacing)
    finally:
        await nc.close()
    return sent


def latency(org, plans, count: int, logs: Path, spacing: float) -> list[float]:
    from django.conf import settings
    from django.db.models import Min
    from django.utils import timezone

    from bus.topology import inbound_subject
    from events.models import OutboxEvent

    make_streams(org)
    chosen = [str(plan.pk) for plan in plans[-count:]]
    worker = start_process(
        [sys.executable, "-m", "celery", "-A", "healix.celery", "worker", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
        logs / "worker.log",
        "ready.",
    )  # fmt: skip
    bus = start_process(
        [sys.executable, "manage.py", "consume_bus"],
        logs / "consume_bus.log",
        "consume_bus started",
    )
    try:
        subject = inbound_subject(org.slug, SUBJECT)
        since = timezone.now()  # earlier phases updated some of these plans too
        sent = asyncio.run(publish_slots(settings.NATS_URL, subject, chosen, spacing))
        updates = OutboxEvent.objects.filter(
            organization=org, event_type="planUpdated", plan_id__in=chosen, occurred_at__gte=since
        )
        deadline = time.monotonic() + PHASE_TIMEOUT
        while (ran := updates.values("plan_id").distinct().count()) < len(chosen):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {ran} of {len(chosen)} actions ran")
            time.sleep(0.2)
        done = dict(
            updates.values("plan_id")
            .annotate(first=Min("occurred_at"))
            .values_list("plan_id", "first")
        )
        return sorted(done[uuid.UUID(p)].timestamp() - sent[p] for p in chosen)
    finally:
        for process in (bus, worker):
            process.send_signal(signal.SIGTERM)
        for process in (bus, worker):
            process.wait(30)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="plans per evaluate_plans call")
    parser.add_argument("--threads", type=int, default=2, help="threads of the second pass")
    parser.add_argument("--latency", type=int, default=200, help="time slots published")
    parser.add_argument("--spacing", type=float, default=0.1, help="seconds between them")
    return parser


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    from django.conf import settings
    from django.core.management import call_command

    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    call_command("migrate", verbosity=0)
    print(f"PostgreSQL {os.environ['DATABASE_URL']}\nNATS {devservers.redacted(settings.NATS_URL)}")
    print(f"{os.cpu_count()} CPUs, logs in {logs}\n")
    started = time.perf_counter()
    org, template, plans = setup(args.plans)
    took = time.perf_counter() - started
    print(f"setup    {args.plans} plans, {ROWS} rows x 8 columns in {took:.1f}s")
    rate, threaded, engine, fired = evaluation_rate(template, plans, args.batch, args.threads)
    print(
        f"evaluate {rate:,.0f} plan evaluations/s on one thread (evaluate_plans, batches of "
        f"{args.batch}, recorded; {fired} rows fired)"
    )
    print(
        f"         {threaded:,.0f} plan evaluations/s on {args.threads} threads of this process "
        "(database waits overlap)"
    )
    print(f"         {engine:,.0f} plan evaluations/s of the engine alone (data loaded)")
    delays = latency(org, plans, args.latency, logs, args.spacing)
    print(
        f"latency  inbound event to action, {len(delays)} slots over NATS "
        f"({args.spacing * 1000:.0f} ms apart): p50 {percentile(delays, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(delays, 0.99) * 1000:.0f} ms"
    )
    # The ceiling: the engine alone over the same rows and data, no database.
    return [
        Figure(
            "rules, plan evaluations, one thread (rules.py)",
            rate,
            "plans/s",
            ceiling=engine,
            min_share=MIN_SHARE,  # one thread, as a prefork worker process runs
        ),
        Figure(f"rules, plan evaluations, {args.threads} threads", threaded, "plans/s", engine),
        Figure(
            f"rules, inbound event -> action p99 ({args.spacing * 1000:.0f} ms apart)",
            percentile(delays, 0.99) * 1000,
            "ms",
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE))
