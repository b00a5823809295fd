"""First message only under load: 8 REST threads and 2 consume_bus processes deliver the same
200 payloads at once; exactly 200 are accepted, every other copy is counted, nothing fails.
Also how the consumer sorts failures into retry (nak) and never-retry (term)."""

import json
import random
import threading

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum

from bus import inbound as bus
from bus.inbound import Action, Item, process_batch
from bus.topology import inbound_subject
from integrations.inbound import services
from integrations.models import InboundEvent
from tests.fixtures.integrations import key_client, make_api_key, post_json
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "aiEngineTimeSlot"
PAYLOADS = 200
THREADS = 8
NATS_COPIES = 2  # each payload is published twice, for the two consume_bus processes


def test_exactly_the_first_copy_of_each_payload_is_accepted(start_consume_bus, publish, org, plan):
    # Given 200 distinct payloads, two consumers running, and 8 REST clients
    key = make_api_key(org)
    payloads = [{"planId": str(plan.pk), "timeSlot": f"slot-{n}"} for n in range(PAYLOADS)]
    consumers = [start_consume_bus(), start_consume_bus()]
    start = threading.Barrier(THREADS + 1)
    failures: list[str] = []

    def rest_sender(seed: int) -> None:
        client = key_client(key)
        order = random.Random(seed).sample(payloads, len(payloads))
        start.wait()
        try:
            for payload in order:
                response = post_json(client, SUBJECT, payload)
                if response.status_code != 202:
                    failures.append(f"{response.status_code} {response.content[:200]}")
        finally:
            connection.close()  # this thread's own connection, before the database is flushed

    threads = [threading.Thread(target=rest_sender, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    # When all send at once: the threads over REST, NATS copies in reverse key order
    messages = [
        (inbound_subject("hrh", SUBJECT), json.dumps(dict(reversed(p.items()))).encode(), None)
        for p in payloads * NATS_COPIES
    ]
    start.wait()
    publish.many(messages)
    for thread in threads:
        thread.join()
    total = PAYLOADS * THREADS + PAYLOADS * NATS_COPIES

    def counted() -> int:
        return InboundEvent.objects.aggregate(n=Sum("duplicate_count"))["n"] or 0

    try:
        wait_until(lambda: counted() == total - PAYLOADS, timeout=60)
    except AssertionError:
        logs = "".join(process.log.read_text()[-3000:] for process in consumers)
        rows = InboundEvent.objects.count()
        raise AssertionError(f"counted {counted()}, rows {rows}, {failures[:3]}\n{logs}") from None
    # Then exactly 200 are accepted, each once, and every other copy is counted on its first
    assert failures == []
    accepted = InboundEvent.objects.filter(status="accepted")
    assert accepted.count() == PAYLOADS
    assert sorted(e.payload["timeSlot"] for e in accepted) == sorted(
        p["timeSlot"] for p in payloads
    )
    assert not InboundEvent.objects.filter(status="rejected").exists()
    assert all(process.poll() is None for process in consumers)
    logs = "".join(process.log.read_text() for process in consumers)
    # Deadlocks between consumers may retry, never fail (log lines in either LOG_FORMAT).
    assert '"level": "ERROR"' not in logs and " ERROR " not in logs, logs


def test_a_transient_database_error_naks_and_a_bug_terminates(org, plan, monkeypatch):
    body = json.dumps({"planId": str(plan.pk), "timeSlot": "x"}).encode()
    items = [
        Item(inbound_subject("hrh", SUBJECT), body, {}),
        Item("healix.hrh.inbound.b", body, {}),
    ]
    real_ingest = services.ingest_batch

    # Given the database fails whenever one of the messages is written
    def flaky(messages, *args, **kwargs):
        if any(message.subject == "b" for message in messages):
            raise OperationalError("server closed the connection unexpectedly")
        return real_ingest(messages, *args, **kwargs)

    monkeypatch.setattr(services, "ingest_batch", flaky)
    # When the batch is processed
    results = process_batch(items)
    # Then, after the whole batch failed its tries, each message runs on its own: the good
    # one is stored and acked, the failing one is offered again later (nak)
    assert [r.action for r in results] == [Action.ACK, Action.NAK]
    assert InboundEvent.objects.filter(status="accepted").count() == 1

    # And a message that fails for any other reason is stored as rejected and terminated
    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(services, "ingest_batch", broken)
    [result] = process_batch([Item(inbound_subject("hrh", SUBJECT), b"{}", {})])
    assert result.action == Action.TERM
    stored = InboundEvent.objects.get(pk=result.answer["id"])
    assert (stored.status, stored.errors[0]["detail"]) == (
        "rejected",
        "Healix could not process this message (KeyError).",
    )
    assert bus.NAK_DELAY_SECONDS > 0
