"""Benchmark of webhooks: deliveries/s, commit-to-received latency, and the HTTP ceiling.

    .venv/bin/python bench/webhooks.py [--events 2000] [--integrations 5] [--rate 200]
                                       [--seconds 10] [--latency-integrations 1]

Starts an embedded PostgreSQL and nats-server (dev/servers.py) unless DATABASE_URL /
NATS_URL name servers, a receiver process on 127.0.0.1 (http.server, threaded, keep-alive,
answering 204), and the real processes: `manage.py relay_events`, `manage.py consume_bus`
(the healix-webhooks consumer) and a Celery worker (prefork, 2 processes, as the Procfile).
Then, in one run:

1. throughput: --events planUpdated events emitted through plans.services while nothing runs,
   fanned out to --integrations integrations (all on the receiver); the processes start and
   deliveries/s is counted from the first to the last request the receiver saw;
2. ceiling: a bare requests.Session POST loop (one thread, same body and headers) to the same
   receiver: what the receiver and loopback take at most from one client;
3. latency: events emitted at --rate events/s for --seconds through the services by emitter
   processes (bench/emitters.py), each to --latency-integrations integrations; the receiver
   times every delivery from the moment its event's transaction committed (both clocks are
   this machine's time.time()). The figure's name gives the rate the emitters reached; below
   95 % of the asked rate it is marked invalid.

Targets (issue 6): >= 1,000 deliveries/s; p99 < 250 ms at 200 events/s. Exit status 1 when a
target is not met.
"""

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import Figure, percentile, production_environment, standalone  # noqa: E402
from bench.emitters import EMITTERS, emit_at_rate  # noqa: E402
from dev import servers as devservers  # noqa: E402 (needs the project on sys.path)

DATABASE = "healix_bench_webhooks"
PLANS = 64
P99_TARGET_SECONDS = 0.250
DELIVERIES_TARGET = 1000
PATIENCE = 120.0
# DEBUG off, as production runs (with it on, every process records every query); the receiver
# is plain HTTP on loopback, which production refuses unless these allow it.
BENCH_SETTINGS = {
    "HEALIX_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "HEALIX_WEBHOOK_ALLOW_HTTP": "true",
}
# The filesystem broker (no broker server on this machine) polls its folder; 0.1 s, the
# default, is a tenth of a second added to every task here, which production's Redis or
# RabbitMQ (pushing tasks) does not add. --polling sets it.


# --- the receiver (its own process) ----------------------------------------------------------


def serve(port, count, stop, out: str) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    # One line per request as it arrives (event id, time.time()): bench/soak.py reads it live.
    with Path(out).open("w", buffering=1) as record:
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                with lock:
                    record.write(f"{self.headers.get('webhook-id', '')} {now}\n")
                    count.value += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # the default 5 drops connections in a burst (1 s SYN)

        server = Server(("127.0.0.1", port.value), Handler)
        port.value = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stop.wait()
        server.shutdown()
        lock.acquire()  # no request writes to the record while it closes


class ReceiverProcess:
    def __init__(self, scratch: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = context.Value("l", 0)
        self.port = context.Value("l", 0)
        self.stop = context.Event()
        self.out = scratch / f"received-{uuid.uuid4().hex[:6]}.txt"
        self.process = context.Process(
            target=serve, args=(self.port, self.count, self.stop, str(self.out)), daemon=True
        )
        self.process.start()
        while self.port.value == 0:
            time.sleep(0.01)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port.value}{path}"

    def received(self) -> list[tuple[str, float]]:
        """(event id, time received) of every request so far."""
        text = self.out.read_text() if self.out.exists() else ""
        # Every line ends with a newline: what follows the last one is still being written.
        return [(line.split()[0], float(line.split()[1])) for line in text.split("\n")[:-1]]

    def finish(self) -> list[tuple[str, float]]:
        self.stop.set()
        self.process.join(30)
        return self.received()


# --- the run ---------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--integrations", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-integrations", type=int, default=1)
    parser.add_argument("--emitters", type=int, default=EMITTERS, help="emitter processes")
    parser.add_argument("--polling", type=float, default=0.02, help="filesystem broker polling")
    return parser


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **production_environment(),
        **BENCH_SETTINGS,
        "CELERY_FILESYSTEM_POLLING_SECONDS": str(args.polling),
    }


def start_processes(scratch: Path, stack: ExitStack) -> None:
    env = {**os.environ, "DATABASE_CONN_MAX_AGE": "60"}
    commands = {
        "relay": [sys.executable, "manage.py", "relay_events"],
        "bus": [sys.executable, "manage.py", "consume_bus"],
        "worker": [
            sys.executable, "-m", "celery", "-A", "healix.celery", "worker",
            "--concurrency=2", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel=WARNING",
        ],
    }  # fmt: skip
    for name, command in commands.items():
        log = (scratch / f"{name}.log").open("w")
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(condition, timeout: float = PATIENCE) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stages(organization) -> None:
    """Where the latency goes: event occurred -> delivery row (relay + fan-out), and delivery
    row -> first attempt started (Celery queue + lease)."""
    from django.db.models import Min

    from events.models import OutboxEvent
    from integrations.models import WebhookDelivery

    occurred = dict(
        OutboxEvent.objects.filter(organization=organization).values_list("event_id", "occurred_at")
    )
    rows = (
        WebhookDelivery.objects.filter(organization=organization)
        .annotate(first=Min("attempts__started_at"))
        .values_list("event_id", "created_at", "first")
    )
    fan = [(created - occurred[e]).total_seconds() for e, created, _f in rows if e in occurred]
    queue = [(first - created).total_seconds() for _e, created, first in rows if first]
    for name, values in (("occurred -> delivery row", fan), ("row -> first attempt", queue)):
        if values:
            print(
                f"  stage {name}: p50 {percentile(values, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(values, 0.99) * 1000:.0f} ms"
            )


def run(args: argparse.Namespace, stack: ExitStack) -> list[Figure]:
    import io

    from django.conf import settings
    from django.core.management import call_command

    from dev.demo import create_demo_template
    from events.models import OutboxEvent
    from events.types import EventType
    from healix.models import Organization, User, UserType
    from integrations.webhooks.services import ALL, create_integration
    from plans import services

    scratch = Path(tempfile.mkdtemp(prefix="healix-bench-webhooks-"))
    call_command("migrate", verbosity=0)
    call_command("setup_streams", stdout=io.StringIO())
    print(f"PostgreSQL {os.environ['DATABASE_URL']}\nNATS {devservers.redacted(settings.NATS_URL)}")
    print(
        f"{os.cpu_count()} CPUs; worker prefork 2 processes, 16 send threads each; "
        f"filesystem broker polling {args.polling}s\n"
    )

    def make_org(integrations: int, receiver: ReceiverProcess):
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        org = Organization.objects.create(slug=slug, name="Benchmark")
        actor = User.objects.create(
            username=f"{slug}-a", organization=org, user_type=UserType.ADMIN
        )
        patient = User.objects.create(username=f"{slug}-p", organization=org)
        template = create_demo_template(org)
        plans = [
            services.assign_plan(actor=actor, template=template, user=patient) for _ in range(PLANS)
        ]
        for n in range(integrations):
            create_integration(
                org,
                partner_name=f"p{n}",
                url=receiver.url(f"/{slug}/{n}"),
                subscriptions={EventType.PLAN_UPDATED: ALL},
            )
        OutboxEvent.objects.filter(organization=org).delete()  # set-up events are not the run
        return actor, plans

    # 1. Throughput.
    receiver = ReceiverProcess(scratch)
    actor, plans = make_org(args.integrations, receiver)
    for n in range(args.events):
        services.update_plan(actor=actor, plan=plans[n % PLANS], risk_status=f"r{n}")
    expected = args.events * args.integrations
    start_processes(scratch, stack)
    delivered = wait_for(lambda: receiver.count.value >= expected, PATIENCE * 3)
    received = receiver.finish()
    times = sorted(at for _id, at in received)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    throughput = len(received) / span if span else 0.0
    print(
        f"deliveries {len(received)} of {expected} ({args.events} events x {args.integrations} "
        f"integrations){'' if delivered else ' NOT all delivered'}: {throughput:,.0f} "
        f"deliveries/s (first to last request at the receiver)"
    )

    # 2. Ceiling: one thread, a bare Session, same body size and headers.
    import requests

    ceiling_receiver = ReceiverProcess(scratch)
    body = OutboxEvent.objects.filter(event_type="planUpdated").first().payload.encode()
    session = requests.Session()
    headers = {"Content-Type": "application/json", "webhook-id": "x", "webhook-signature": "v1,x"}
    count = min(expected, 5000)
    started = time.perf_counter()
    for _ in range(count):
        session.post(ceiling_receiver.url("/ceiling"), data=body, headers=headers, timeout=15)
    ceiling = count / (time.perf_counter() - started)
    ceiling_receiver.finish()
    print(f"ceiling    {ceiling:,.0f} requests/s (bare requests.Session POST loop, one thread)")

    # 3. Latency at a steady rate (the processes keep running).
    latency_receiver = ReceiverProcess(scratch)
    actor, plans = make_org(args.latency_integrations, latency_receiver)
    total = int(args.rate * args.seconds)
    # Wall times: the receiver (a process of its own) keeps time.time().
    emitted = emit_at_rate(
        "services", actor.username, args.rate, args.seconds, clock="wall", processes=args.emitters
    )
    committed, achieved = emitted.committed, emitted.rate
    expected = total * args.latency_integrations
    wait_for(lambda: latency_receiver.count.value >= expected, PATIENCE)
    received = latency_receiver.finish()
    latencies = [at - committed[event_id] for event_id, at in received if event_id in committed]
    if len(latencies) < expected:
        from django.db.models import Count

        from integrations.models import WebhookDelivery

        by_status = dict(
            WebhookDelivery.objects.filter(organization=actor.organization)
            .values_list("status")
            .annotate(n=Count("id"))
        )
        print(
            f"  MISSING: received {len(received)}, matched {len(latencies)}, events "
            f"{OutboxEvent.objects.filter(organization=actor.organization).count()}, "
            f"deliveries by status {by_status}"
        )
    at_rate = emitted.at_rate and len(latencies) == expected
    stages(actor.organization)
    p50 = percentile(latencies, 0.5) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    print(
        f"latency    {len(latencies)} of {expected} deliveries, events at {achieved:,.0f}/s "
        f"(asked {args.rate:.0f}/s{'' if at_rate else ', NOT reached'}; "
        f"{args.emitters} emitters) x "
        f"{args.latency_integrations} integration(s): commit -> received p50 "
        f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(latencies or [0]) * 1000:.0f} ms"
    )
    print(
        f"\nthroughput = {throughput / ceiling:.0%} of the one-thread ceiling; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work on the machine counts)"
    )
    return [
        Figure(
            f"webhook deliveries, {args.integrations} integrations (webhooks.py)",
            throughput,
            "deliveries/s",
            ceiling=ceiling,
            at_least=DELIVERIES_TARGET,
            valid=delivered,
        ),
        Figure(
            f"webhooks commit -> received p99 at {args.rate:.0f} events/s ({emitted.label()})",
            p99 * 1000,
            "ms",
            at_most=P99_TARGET_SECONDS * 1000,
            valid=at_rate,
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone(run, parser(), DATABASE, environment))
