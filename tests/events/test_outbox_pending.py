"""The relay's bookkeeping apart from the event's row (migration 0004): emit() queues the event
with it, a failed publish stays queued with its error, and the migration carries the outbox's
state both ways."""

import uuid

import nats
import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from events.models import OutboxEvent, OutboxPending, OutboxPublication
from events.relay import PublishFailed, Relay
from events.sql import CLAIM_SQL
from plans import services
from tests.events.conftest import _reset_stream, relay_config, run

BEFORE = [("events", "0003_outbox_transaction_id")]
AFTER = [("events", "0004_outbox_publication_apart")]


@pytest.mark.django_db
def test_an_event_is_queued_in_its_own_transaction_and_a_rollback_leaves_neither(actor, plan):
    before = OutboxEvent.objects.count(), OutboxPending.objects.count()
    # When a service emits inside a transaction
    with pytest.raises(RuntimeError), transaction.atomic():
        services.update_plan(actor=actor, plan=plan, risk_status="rolled-back")
        # Then the event is pending at once, in the same transaction
        event = OutboxEvent.objects.latest("id")
        assert OutboxPending.objects.filter(event=event, attempts=0, last_error="").exists()
        raise RuntimeError("the caller fails after the service")
    # And once it rolled back, neither row is there
    assert (OutboxEvent.objects.count(), OutboxPending.objects.count()) == before
    assert not OutboxPending.objects.filter(pk=event.pk).exists()


async def _delete_stream(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


async def _drain_once(config) -> Relay:
    relay = Relay(config)
    try:
        await relay.drain()
    finally:
        await relay.close()
    return relay


@pytest.mark.django_db(transaction=True)
def test_a_failed_publish_stays_pending_with_its_attempts_and_error(
    events_stream, nats_server, actor, plan
):
    # Given the plan's event and a JetStream with no stream to take it
    event = OutboxEvent.objects.get()
    run(_delete_stream(nats_server.url, events_stream))
    # When the relay tries to publish it
    with pytest.raises(PublishFailed):
        run(_drain_once(relay_config(ack_timeout=2.0)))
    # Then it is still pending, its attempt counted with the error, and not published
    pending = OutboxPending.objects.get(event=event)
    assert pending.attempts == 1 and pending.last_error
    assert not OutboxPublication.objects.exists()
    # When the stream is back, the next drain publishes it and clears the queue
    run(_reset_stream(nats_server.url))
    assert run(_drain_once(relay_config())).stats.published == 1
    assert not OutboxPending.objects.exists()
    assert OutboxPublication.objects.get(event=event).attempts == 2


def _old_outbox_rows(org_id: int, plan_id) -> dict[str, int]:
    """Three events written as the schema before 0004 kept them: published, never tried,
    failed twice."""
    ids = {}
    with connection.cursor() as cursor:
        for name, published_at, attempts, error in (
            ("published", timezone.now(), 1, ""),
            ("waiting", None, 0, ""),
            ("failing", None, 2, "no ack"),
        ):
            cursor.execute(
                "INSERT INTO events_outboxevent (organization_id, event_id, event_type, subject, "
                "plan_id, trace_id, payload, occurred_at, published_at, attempts, last_error) "
                "VALUES (%s, %s, 'planUpdated', 'healix.hrh.planUpdated', %s, 't', '{}', now(), "
                "%s, %s, %s) RETURNING id",
                [org_id, uuid.uuid4(), plan_id, published_at, attempts, error],
            )
            ids[name] = cursor.fetchone()[0]
    return ids


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(
            cursor, "events_outboxevent")}  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_outbox_state_out_and_back(org, plan):
    # Given an outbox as it was before the migration, with unpublished and failing rows
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    ids = _old_outbox_rows(org.pk, plan.pk)
    try:
        # When it migrates forward
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        # Then the unpublished rows are pending with their attempts and errors, the published
        # one has its publication, and the columns and the partial index are gone
        assert {"published_at", "attempts", "last_error"}.isdisjoint(_columns())
        rows = OutboxPending.objects.values_list("event_id", "attempts", "last_error")
        pending = {pk: (attempts, error) for pk, attempts, error in rows}
        assert pending[ids["waiting"]] == (0, "") and pending[ids["failing"]] == (2, "no ack")
        assert ids["published"] not in pending
        assert OutboxPublication.objects.get(event_id=ids["published"]).attempts == 1
        every = set(OutboxEvent.objects.values_list("id", flat=True))
        published = set(OutboxPublication.objects.values_list("event_id", flat=True))
        assert every == set(pending) | published and not set(pending) & published
        # When it migrates backward
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        # Then the columns are back, as they were
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, published_at IS NOT NULL, attempts, last_error FROM events_outboxevent "
                "WHERE id = ANY(%s) ORDER BY id",
                [list(ids.values())],
            )
            assert cursor.fetchall() == [
                (ids["published"], True, 1, ""),
                (ids["waiting"], False, 0, ""),
                (ids["failing"], False, 2, "no ack"),
            ]
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'outbox_unpublished'")
            assert cursor.fetchone()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_event_queued_again_after_its_publication_is_published_again_not_wedged(
    events_stream, actor, plan
):
    # Given the plan's event published, then queued again by hand (a replay)
    event = OutboxEvent.objects.get()
    run(_drain_once(relay_config()))
    first = OutboxPublication.objects.get(event=event)
    OutboxPending.objects.create(event=event)
    # When the relay drains
    relay = run(_drain_once(relay_config()))
    # Then it went out again (JetStream drops the copy), the queue is empty, and the first
    # publication row stands
    assert (relay.stats.published, relay.stats.duplicates) == (1, 1)
    assert not OutboxPending.objects.exists()
    assert OutboxPublication.objects.get(event=event).published_at == first.published_at


@pytest.mark.django_db
def test_the_claim_looks_each_pending_event_up_by_key_whatever_the_statistics_say(plan):
    # Given 5,000 events, analyzed while all were pending (a queue's statistics lag its churn),
    # and since then all but the last three published
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {OutboxEvent._meta.db_table}
                (event_id, event_type, subject, plan_id, trace_id, payload, occurred_at,
                 organization_id)
            SELECT gen_random_uuid(), event_type, subject, plan_id, trace_id, payload,
                occurred_at, organization_id
            FROM {OutboxEvent._meta.db_table}, generate_series(1, 5000)
            WHERE id = %s""",
            [OutboxEvent.objects.get().pk],
        )
        cursor.execute(
            f"INSERT INTO {OutboxPending._meta.db_table} (id, attempts, last_error) "
            f"SELECT id, 0, '' FROM {OutboxEvent._meta.db_table} ON CONFLICT DO NOTHING"
        )
        cursor.execute(f"ANALYZE {OutboxEvent._meta.db_table}, {OutboxPending._meta.db_table}")
        last_three = list(OutboxPending.objects.order_by("-pk").values_list("pk", flat=True)[:3])
        OutboxPending.objects.exclude(pk__in=last_three).delete()
        # When the relay's claim is planned as its prepared statement ends up planned: once,
        # for any parameters
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        claim = CLAIM_SQL.replace("%(exclude)s", "$1").replace("%(batch)s", "$2")
        cursor.execute(f"PREPARE healix_claim (bigint[], integer) AS {claim}")
        try:
            cursor.execute("EXPLAIN EXECUTE healix_claim('{}', 500)")
            plan_text = "\n".join(line for (line,) in cursor.fetchall())
            cursor.execute("EXECUTE healix_claim('{}', 500)")
            claimed = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.execute("DEALLOCATE healix_claim")
    # Then it reads the three pending events by the outbox's primary key, in order, rather
    # than hashing all 5,001 (as a join did: 6.5 ms a claim with 6,000 events)
    assert "Seq Scan" not in plan_text, plan_text
    assert f"{OutboxEvent._meta.db_table}_pkey" in plan_text, plan_text
    assert claimed == sorted(last_three)
