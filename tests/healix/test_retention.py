"""Retention (healix/retention.py): each kind of record pruned past its period, and nothing
else; first message only kept over its horizon; batches that skip locked rows."""

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import OutboxEvent, OutboxPending, OutboxPublication
from healix import retention
from healix.models import IdempotentRequest
from integrations.inbound.services import Outcome, ingest
from integrations.models import (
    InboundEvent,
    InboundSource,
    InboundStatus,
    UnroutableMessage,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.fixtures.integrations import post_json
from tests.fixtures.webhooks import make_delivery, make_integration

pytestmark = pytest.mark.django_db

SUBJECT = "aiEngineTimeSlot"


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def slot(plan, time_slot="2026-01-05T10:00") -> str:
    return json.dumps({"planId": str(plan.pk), "timeSlot": time_slot})


def accepted(org, plan, age_days: float, time_slot="2026-01-05T10:00", rules_done=True):
    """An accepted event received `age_days` ago (the rules done with it unless told)."""
    result = ingest(org, SUBJECT, slot(plan, time_slot), InboundSource.REST)
    assert result.outcome == Outcome.ACCEPTED
    InboundEvent.objects.filter(pk=result.event_id).update(
        received_at=days_ago(age_days), rules_done_at=days_ago(age_days) if rules_done else None
    )
    return InboundEvent.objects.get(pk=result.event_id)


@contextlib.contextmanager
def held_elsewhere(take_lock: Callable[[], object]) -> Iterator[None]:
    """While the block runs, another connection's open transaction holds what `take_lock`
    takes (a row lock, a table lock), as a concurrent request or migration would."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                take_lock()
                locked.set()
                release.wait(60)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        release.set()
        holder.join()


# --- first message only over its horizon ------------------------------------------------------


def test_a_copy_inside_the_horizon_is_still_a_duplicate_after_its_payload_is_pruned(org, plan, api):
    # Given an accepted event older than the payload period, younger than the horizon
    event = accepted(org, plan, age_days=40)
    retention.prune()
    # Then its payload is gone and its hash is kept
    event.refresh_from_db()
    assert event.payload is None
    assert event.payload_pruned_at is not None
    assert event.payload_hash and event.status == InboundStatus.ACCEPTED
    detail = api.get(f"/api/v1/inbound/{event.pk}/").json()
    assert detail["payload"] is None
    assert detail["payloadPrunedAt"] == event.payload_pruned_at.isoformat().replace("+00:00", "Z")
    # And a copy of the same data, over either path, is counted on it, not processed
    copy = ingest(org, SUBJECT, slot(plan), InboundSource.NATS)
    assert copy.outcome == Outcome.DUPLICATE
    assert copy.duplicate_of == event.pk
    answer = post_json(api, SUBJECT, json.loads(slot(plan)))
    assert answer.json() == {
        "id": str(event.pk),
        "status": "duplicate",
        "duplicateOf": str(event.pk),
    }
    event.refresh_from_db()
    assert event.duplicate_count == 2


def test_past_the_horizon_the_event_is_deleted_and_a_copy_is_a_new_first_message(org, plan):
    event = accepted(org, plan, age_days=91)
    retention.prune()
    assert not InboundEvent.objects.filter(pk=event.pk).exists()
    assert ingest(org, SUBJECT, slot(plan), InboundSource.REST).outcome == Outcome.ACCEPTED


def test_payloads_the_rules_may_still_need_and_recent_ones_are_kept(org, plan):
    pending = accepted(org, plan, age_days=40, time_slot="2026-01-05T11:00", rules_done=False)
    recent = accepted(org, plan, age_days=29, time_slot="2026-01-05T12:00")
    retention.prune()
    for event in (pending, recent):
        event.refresh_from_db()
        assert event.payload is not None and event.payload_pruned_at is None


def test_rejected_events_and_unroutable_messages_go_after_the_payload_period(org):
    old = ingest(org, SUBJECT, b"{not json", InboundSource.REST)
    new = ingest(org, SUBJECT, b"{not json either", InboundSource.REST)
    assert old.outcome == new.outcome == Outcome.REJECTED
    InboundEvent.objects.filter(pk=old.event_id).update(received_at=days_ago(31))
    stray = UnroutableMessage.objects.create(subject="healix.nope.inbound.x", reason="no org")
    UnroutableMessage.objects.filter(pk=stray.pk).update(received_at=days_ago(31))
    UnroutableMessage.objects.create(subject="healix.nope.inbound.y", reason="no org")
    counts = retention.prune()
    assert counts["rejected inbound events"] == 1
    assert list(InboundEvent.objects.values_list("pk", flat=True)) == [new.event_id]
    assert list(UnroutableMessage.objects.values_list("subject", flat=True)) == [
        "healix.nope.inbound.y"
    ]


# --- the other kinds --------------------------------------------------------------------------


def test_published_outbox_events_go_after_their_period_and_unpublished_ones_never(plan):
    # Given the plan's event, published long ago, and three more: one never published, two
    # published recently
    old_published = OutboxEvent.objects.get()
    never_published, *recent = (
        OutboxEvent.objects.create(
            **{
                field.attname: getattr(old_published, field.attname)
                for field in OutboxEvent._meta.concrete_fields
                if field.name not in ("id", "event_id", "transaction_id")
            },
            event_id=uuid.uuid4(),
        )
        for _ in range(3)
    )
    OutboxPending.objects.filter(pk=old_published.pk).delete()  # emit() made it pending
    OutboxPublication.objects.create(event=old_published, published_at=days_ago(31), attempts=1)
    OutboxPending.objects.create(event=never_published, attempts=3, last_error="no ack")
    OutboxEvent.objects.filter(pk=never_published.pk).update(occurred_at=days_ago(60))
    for event in recent:
        OutboxPublication.objects.create(event=event, published_at=days_ago(1), attempts=1)
    retention.prune()
    remaining = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert remaining == {never_published.pk, *(e.pk for e in recent)}
    # The pruned event's publication went with it; the waiting one is still the relay's
    assert set(OutboxPublication.objects.values_list("pk", flat=True)) == {e.pk for e in recent}
    assert list(OutboxPending.objects.values_list("pk", flat=True)) == [never_published.pk]


def test_finished_deliveries_go_with_their_attempts_and_pending_ones_stay(
    org, receiver, webhook_settings
):
    integration, _secret = make_integration(org, receiver.url())
    delivered = make_delivery(integration, "succeeded", completed_at=days_ago(91))
    failed = make_delivery(integration, "failed", completed_at=days_ago(91))
    pending = make_delivery(integration, "pending")
    recent = make_delivery(integration, "succeeded", completed_at=days_ago(1))
    for delivery in (delivered, failed, pending):
        WebhookAttempt.objects.create(
            delivery=delivery, number=1, started_at=days_ago(91), outcome="retry"
        )
    WebhookDelivery.objects.exclude(pk=recent.pk).update(created_at=days_ago(91))
    counts = retention.prune()
    assert counts["finished webhook deliveries"] == 2
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert list(WebhookAttempt.objects.values_list("delivery_id", flat=True)) == [pending.pk]


def test_idempotency_records_go_after_their_hours(org):
    old = IdempotentRequest.objects.create(
        organization=org, key="old", fingerprint="f", status_code=201, response_headers={}
    )
    IdempotentRequest.objects.filter(pk=old.pk).update(created_at=days_ago(1.1))
    IdempotentRequest.objects.create(
        organization=org, key="new", fingerprint="f", status_code=201, response_headers={}
    )
    retention.prune()
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]


def test_a_period_of_zero_keeps_that_kind_for_ever(settings, org, plan):
    settings.HEALIX_RETENTION_INBOUND_PAYLOAD_DAYS = 0
    settings.HEALIX_RETENTION_INBOUND_HASH_DAYS = 0
    event = accepted(org, plan, age_days=400)
    counts = retention.prune()
    assert "inbound payloads" not in counts
    event.refresh_from_db()
    assert event.payload is not None


# --- how it prunes ----------------------------------------------------------------------------


def test_many_rows_are_pruned_in_batches_and_a_dry_run_only_counts(org, plan):
    events = [accepted(org, plan, 40, time_slot=f"2026-01-05T1{n}:00") for n in range(5)]
    assert retention.prune(dry_run=True)["inbound payloads"] == 5
    assert InboundEvent.objects.filter(payload_pruned_at__isnull=True).count() == 5
    with CaptureQueriesContext(connection) as statements:
        counts = retention.prune(batch_size=2, pause_seconds=0)
    assert counts["inbound payloads"] == 5
    # Three batches (2, 2, 1), each its own candidate query
    candidate_queries = [
        query["sql"]
        for query in statements.captured_queries
        if "SKIP LOCKED" in query["sql"] and "rules_done_at" in query["sql"]
    ]
    assert len(candidate_queries) == 3
    assert not InboundEvent.objects.filter(pk__in=[e.pk for e in events], payload__isnull=False)


def test_the_command_prints_each_kind(org, plan, capsys):
    accepted(org, plan, age_days=40)
    call_command("prune", "--dry-run")
    out = capsys.readouterr().out
    assert "inbound payloads: would prune 1 (older than 30 days, 0:00:00)" in out
    assert InboundEvent.objects.get().payload is not None
    call_command("prune")
    assert "inbound payloads: pruned 1" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_row_another_transaction_holds_is_skipped_not_waited_for(org, plan):
    # Given two old events, one of them locked by another connection's open transaction
    held = accepted(org, plan, 40, time_slot="2026-01-05T10:00")
    free = accepted(org, plan, 40, time_slot="2026-01-05T11:00")
    with held_elsewhere(lambda: InboundEvent.objects.select_for_update().get(pk=held.pk)):
        # When the pruner runs meanwhile, it prunes the free row and returns
        counts = retention.prune()
    assert counts["inbound payloads"] == 1
    held.refresh_from_db()
    free.refresh_from_db()
    assert held.payload is not None and free.payload is None
    # And the next run, with the lock gone, prunes the other
    assert retention.prune()["inbound payloads"] == 1


def test_beat_runs_the_pruner_on_its_schedule(settings, org, plan):
    from healix.tasks import prune_records

    entry = settings.CELERY_BEAT_SCHEDULE["prune-records"]
    assert entry == {"task": "healix.prune_records", "schedule": 300}
    accepted(org, plan, age_days=40)
    assert prune_records.apply().get()["inbound payloads"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_table_lock_held_elsewhere_defers_that_table_and_not_the_others(org, plan):
    from rules.models import RuleEvaluation, Trigger

    # Given old rows in two tables, and a migration-like lock on one of them
    event = accepted(org, plan, 40)
    RuleEvaluation.objects.create(
        organization=org, template=plan.template, plan=plan, trigger=Trigger.ON_CHANGE
    )
    RuleEvaluation.objects.update(evaluated_at=days_ago(31))
    lock = f"LOCK TABLE {InboundEvent._meta.db_table} IN ACCESS EXCLUSIVE MODE"
    with held_elsewhere(lambda: connection.cursor().execute(lock)):
        counts = retention.prune()
    # Then the locked table's kinds gave up for this run, and the other table was pruned
    assert counts["inbound payloads"] == 0
    assert counts["rule evaluations"] == 1
    event.refresh_from_db()
    assert event.payload is not None
    assert retention.prune()["inbound payloads"] == 1


def test_portal_sessions_go_after_their_period_counted_from_their_end(org):
    from portal.models import PortalSession
    from portal.services import issue_session
    from tests.fixtures.portal import make_partner

    partner = make_partner(org, "Acme")
    ended_long_ago, ended_lately, live = (issue_session(partner) for _ in range(3))
    PortalSession.objects.filter(pk=ended_long_ago.session.pk).update(expires_at=days_ago(91))
    PortalSession.objects.filter(pk=ended_lately.session.pk).update(expires_at=days_ago(89))
    assert retention.prune()["ended portal sessions"] == 1
    assert set(PortalSession.objects.values_list("pk", flat=True)) == {
        ended_lately.session.pk,
        live.session.pk,
    }
