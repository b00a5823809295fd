"""The inbound NATS path, end to end: a real nats-server (JetStream), real `manage.py
consume_bus` processes, the test database. These tests commit (transaction=True)."""

import asyncio
import json
import uuid

import nats
import pytest
from django.conf import settings

from bus.inbound import REPLY_HEADER, Item, process_batch
from bus.topology import inbound_stream_name, inbound_subject
from integrations.models import InboundEvent
from tests.fixtures.integrations import post_json
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "aiEngineTimeSlot"


async def _consumer_state(url: str) -> tuple[int, int, int]:
    """(ack pending, redelivered, pending) of hrh's durable inbound consumer."""
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(
            inbound_stream_name("hrh"), settings.HEALIX_INBOUND_CONSUMER
        )
        return info.num_ack_pending, info.num_redelivered, info.num_pending
    finally:
        await nc.close()


def consumer_settled(url: str) -> bool:
    """Every message was delivered and settled (acked or terminated), none redelivered."""
    return asyncio.run(_consumer_state(url)) == (0, 0, 0)


def test_same_data_from_rest_and_nats_in_any_key_order_is_one_event(
    start_consume_bus, publish, nats_server, api, plan
):
    # Given a running consumer
    start_consume_bus()
    # When the same data arrives over REST and twice over NATS, keys in different orders
    rest = post_json(api, SUBJECT, {"planId": str(plan.pk), "timeSlot": "9:30"})
    publish("hrh", SUBJECT, {"timeSlot": "9:30", "planId": str(plan.pk)})
    publish("hrh", SUBJECT, b'{ "planId" : "%s", "timeSlot":"9:30" }' % str(plan.pk).encode())
    # Then one event is accepted (the REST one) and the NATS copies are counted on it
    assert rest.json()["status"] == "accepted"
    wait_until(lambda: InboundEvent.objects.get().duplicate_count == 2)
    event = InboundEvent.objects.get()
    assert (event.source, event.status, event.plan_ids) == ("rest", "accepted", [plan.pk])
    wait_until(lambda: consumer_settled(nats_server.url))


def test_nats_message_is_ingested_with_trace_id_and_reply(
    celery_worker, start_consume_bus, nats_server, plan, inbound_stream
):
    start_consume_bus()
    trace_id = uuid.uuid4().hex

    async def request() -> dict:
        # Answers go to an inbox of the message's organization only (docs/inbound.md)
        nc = await nats.connect(nats_server.url, inbox_prefix="_INBOX.hrh.tests")
        try:
            inbox = nc.new_inbox()
            sub = await nc.subscribe(inbox)
            body = json.dumps({"planId": str(plan.pk), "timeSlot": "8:00"}).encode()
            headers = {REPLY_HEADER: inbox, "Healix-Trace-Id": trace_id}
            await nc.jetstream().publish(inbound_subject("hrh", SUBJECT), body, headers=headers)
            return json.loads((await sub.next_msg(timeout=30)).data)
        finally:
            await nc.close()

    answer = asyncio.run(request())
    event = InboundEvent.objects.get()
    assert answer == {"id": str(event.pk), "status": "accepted", "duplicateOf": None}
    assert (event.source, event.trace_id) == ("nats", trace_id)
    assert event.stream_sequence == 1
    wait_until(lambda: InboundEvent.objects.get().rules_done_at is not None)


BAD_INPUTS = [
    # (orgId, subject, body, expected title, expected pointer)
    ("hrh", SUBJECT, b"{not json", "Malformed JSON", "#"),
    ("hrh", SUBJECT, b"\xc3\x28", "Malformed JSON", "#"),
    ("hrh", "noSuchSubject", b'{"timeSlot": "x"}', "Unknown subject", "#"),
    ("hrh", SUBJECT, b'{"planId": "%(plan)s"}', "Invalid payload", "#/timeSlot"),
    ("hrh", SUBJECT, b'{"planId": "%(foreign)s", "timeSlot": "x"}', "Invalid payload", "#/planId"),
    ("hrh", SUBJECT, b'{"timeSlot": "%(big)s"}', "Payload too large", "#"),
    ("hrh", "a.b", b'{"timeSlot": "x"}', "Unknown subject", "#"),
    # Outside I-JSON, which the canonical hash needs: refused as malformed, never a crash
    (
        "hrh",
        SUBJECT,
        b'{"timeSlot": "x", "n": 123456789012345678901234567890}',
        "Malformed JSON",
        "#",
    ),
    ("hrh", SUBJECT, b'{"timeSlot": "x", "n": 1e400}', "Malformed JSON", "#"),
    ("hrh", SUBJECT, b'{"timeSlot": "\\ud800"}', "Malformed JSON", "#"),
    ("hrh", SUBJECT, b'{"timeSlot": ' + b"[" * 100 + b"]" * 100 + b"}", "Malformed JSON", "#"),
]


def test_every_bad_input_over_nats_is_stored_rejected_and_terminated(
    start_consume_bus, publish, nats_server, plan, other_plan
):
    # Given a running consumer and bad messages, each asking for a reply
    start_consume_bus()
    values = {"plan": plan.pk, "foreign": other_plan.pk, "big": "x" * (300 * 1024)}

    async def send_all() -> list[dict]:
        nc = await nats.connect(nats_server.url)
        try:
            js, answers = nc.jetstream(), []
            for org_id, subject, body, *_ in BAD_INPUTS:
                # an inbox of the organization the message names: where answers may go
                inbox = nc.new_inbox().replace("_INBOX.", f"_INBOX.{org_id}.tests.", 1)
                sub = await nc.subscribe(inbox)
                data = body % {k.encode(): str(v).encode() for k, v in values.items()}
                await js.publish(
                    inbound_subject(org_id, subject), data, headers={REPLY_HEADER: inbox}
                )
                answers.append(json.loads((await sub.next_msg(timeout=30)).data))
            # An organization that does not exist has no stream: the publisher is told
            with pytest.raises(nats.js.errors.NoStreamResponseError):
                await js.publish(inbound_subject("nobody", SUBJECT), b"{}")
            return answers
        finally:
            await nc.close()

    answers = asyncio.run(send_all())
    # Then each got the REST-equivalent problem, and each is stored with its reason
    for (_org, subject, _body, title, pointer), answer in zip(BAD_INPUTS, answers, strict=True):
        assert answer["title"] == title, answer
        event = InboundEvent.objects.get(pk=answer["id"])
        assert (event.status, event.source, event.subject) == ("rejected", "nats", subject)
        assert event.errors[0]["pointer"] == pointer
    # And nothing waits for a redelivery: every message was terminated, none redelivered
    wait_until(lambda: consumer_settled(nats_server.url))
    assert InboundEvent.objects.count() == len(BAD_INPUTS)


def test_a_consumer_killed_after_commit_before_ack_leaves_a_duplicate_not_a_second_event(
    inbound_stream, start_consume_bus, nats_server, plan
):
    # Given a consumer whose messages come back 2 s after a consumer dies holding them
    inbound_stream(ack_wait=2.0)
    body = json.dumps({"planId": str(plan.pk), "timeSlot": "7:00"}).encode()

    async def commit_then_die() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.publish(inbound_subject("hrh", SUBJECT), body)
        sub = await js.pull_subscribe_bind(
            settings.HEALIX_INBOUND_CONSUMER, inbound_stream_name("hrh")
        )
        [msg] = await sub.fetch(1, timeout=10)
        items = [Item(msg.subject, msg.data, {}, msg.metadata.sequence.stream)]
        # The consumer's own processing: it commits...
        await asyncio.to_thread(process_batch, items)
        # ...and dies before it acks: the connection is gone, the ack never sent
        await nc.close()

    asyncio.run(commit_then_die())
    event = InboundEvent.objects.get()
    assert (event.status, event.duplicate_count) == ("accepted", 0)
    # When a consumer runs again and the message is redelivered
    start_consume_bus()
    wait_until(lambda: InboundEvent.objects.get().duplicate_count == 1)
    # Then it is a duplicate of the committed event, not a second event, and it is acked
    assert InboundEvent.objects.count() == 1
    wait_until(lambda: consumer_settled(nats_server.url))
    # (delivered twice, the original and one redelivery; both settled)
    delivered, acked = asyncio.run(_delivery_counts(nats_server.url))
    assert (delivered, acked) == (2, 2)


async def _delivery_counts(url: str) -> tuple[int, int]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(
            inbound_stream_name("hrh"), settings.HEALIX_INBOUND_CONSUMER
        )
        return info.delivered.consumer_seq, info.ack_floor.consumer_seq
    finally:
        await nc.close()


def test_a_reply_subject_outside_the_inbox_is_never_answered_and_stops_nothing(
    start_consume_bus, nats_server, plan, inbound_stream
):
    # Given a consumer, and messages asking for answers on an invalid subject and on another
    # organization's inbound subject, then a well-formed message
    start_consume_bus()

    async def send_and_watch_the_other_org() -> int:
        nc = await nats.connect(nats_server.url)
        try:
            spy = await nc.subscribe("healix.other.>")
            js = nc.jetstream()
            for index, reply_to in enumerate(["a b", "healix.other.inbound.aiEngineTimeSlot"]):
                body = json.dumps({"planId": str(plan.pk), "timeSlot": f"slot {index}"}).encode()
                headers = {REPLY_HEADER: reply_to}
                await js.publish(inbound_subject("hrh", SUBJECT), body, headers=headers)
            body = json.dumps({"planId": str(plan.pk), "timeSlot": "after"}).encode()
            await js.publish(inbound_subject("hrh", SUBJECT), body)
            await asyncio.sleep(3)  # the consumer would have answered by now
            return spy.pending_msgs
        finally:
            await nc.close()

    seen_by_the_other_org = asyncio.run(send_and_watch_the_other_org())
    # Then all three are ingested (the consumer survived), and nothing reached the other org
    wait_until(lambda: InboundEvent.objects.filter(status="accepted").count() == 3)
    assert seen_by_the_other_org == 0
