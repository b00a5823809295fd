"""The soak run's load (bench/soak.py): inbound time slots at a steady rate, alternately over
NATS and REST, about 10 % of them copies, and what the drivers counted."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import SUBJECT, bodies


@dataclass
class Load:
    """What the drivers sent: when each plan's first message went, how many, how many copies,
    and the sends that failed by kind."""

    first_sent: dict[str, float] = field(default_factory=dict)
    sent: int = 0
    copies: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, plan_id: str | None, at: float) -> None:
        with self.lock:
            self.sent += 1
            if plan_id is None:
                self.copies += 1
            else:
                self.first_sent[plan_id] = at

    def fail(self, what: str) -> None:
        with self.lock:
            self.failed[what] = self.failed.get(what, 0) + 1


def schedule(plan_ids: list[str], count: int) -> list[tuple[bytes, str | None]]:
    """`count` bodies in sending order (bench/ingest.py's: about 10 % copies, keys reversed),
    each new one for a plan of its own; with the plan a body is the first message for (None
    for a copy)."""
    seen: set[str] = set()
    out: list[tuple[bytes, str | None]] = []
    for body in bodies(plan_ids, count, seed=7, one_plan_each=True):
        plan_id = json.loads(body)["planId"]
        out.append((body, None if plan_id in seen else plan_id))
        seen.add(plan_id)
    return out


def paced(messages, start: float, rate: float, stop: threading.Event):
    """Yield the messages on the open-loop schedule start + n / rate (lateness does not add
    up); this channel's messages are every other one of the whole schedule."""
    for n, message in messages:
        delay = start + n / rate - time.time()
        if delay > 0 and stop.wait(delay):
            return
        if stop.is_set():
            return
        yield message


def drive_nats(messages, start: float, rate: float, stop: threading.Event, load: Load) -> None:
    import nats
    from django.conf import settings

    from bus.topology import inbound_subject
    from dev.demo import DEMO_ORG_SLUG

    async def main() -> None:
        nc = await nats.connect(settings.NATS_URL)
        js = nc.jetstream()
        subject = inbound_subject(DEMO_ORG_SLUG, SUBJECT)
        try:
            for body, plan_id in paced(messages, start, rate, stop):
                at = time.time()
                try:
                    await js.publish(subject, body)
                except Exception as error:
                    load.fail(f"nats {type(error).__name__}")
                    continue
                load.record(plan_id, at)
        finally:
            await nc.close()

    asyncio.run(main())


def drive_rest(messages, start, rate, stop, load: Load, port: int, key: str) -> None:
    import requests

    session = requests.Session()
    url = f"http://127.0.0.1:{port}/api/v1/inbound/{SUBJECT}/"
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    for body, plan_id in paced(messages, start, rate, stop):
        at = time.time()
        try:
            response = session.post(url, data=body, headers=headers, timeout=30)
        except requests.RequestException as error:
            load.fail(f"rest {type(error).__name__}")
            continue
        if response.status_code not in (200, 202):
            load.fail(f"rest {response.status_code}")
            continue
        load.record(plan_id, at)
