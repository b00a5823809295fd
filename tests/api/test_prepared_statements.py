"""The hot statements of a REST request are prepared once per database connection
(healix/prepared.py), behave as Django's own cursors do, and can be turned off."""

import psycopg
import pytest
from django.db import DatabaseError, NotSupportedError, connection, transaction
from django.db.transaction import TransactionManagementError

from events.sql import FEED_SQL
from healix.leader import database_params
from healix.prepared import prepared_cursor
from healix.sql import KEY_SQL
from integrations.sql import PLAN_BY_ID_SQL, STORE_SQL

pytestmark = pytest.mark.django_db
SUBJECT = "aiEngineTimeSlot"  # the world's template listens to it (tests/fixtures/api.py)


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def post(world, time_slot: str):
    return world.client.post(
        f"/api/v1/inbound/{SUBJECT}/",
        {"planId": str(world.plan.pk), "timeSlot": time_slot},
        content_type="application/json",
    )


def first_line(sql: str) -> str:
    return next(line for line in sql.splitlines() if line.strip())


def test_a_request_prepares_the_key_plan_and_store_statements_once(world):
    # When a partner posts two inbound events on the same connection
    assert post(world, "09:00").status_code == 202
    after_one = prepared_statements()
    assert post(world, "10:00").status_code == 202
    # Then the key lookup, the plan lookup and the store are prepared statements
    for sql in (KEY_SQL, PLAN_BY_ID_SQL, STORE_SQL):
        assert sum(first_line(sql) in statement for statement in after_one) == 1, sql
    # And the one plan is looked up by equality, not among a list
    assert any("p.id = $2" in statement for statement in after_one), after_one
    # And the second request prepared nothing more
    assert sorted(prepared_statements()) == sorted(after_one)


def test_polling_the_feed_prepares_its_statement_once(world):
    # When a partner polls the events feed twice on the same connection
    assert world.client.get("/api/v1/events/").status_code == 200
    after_one = prepared_statements()
    assert world.client.get("/api/v1/events/?limit=5").status_code == 200
    # Then the feed's statement is prepared, and the second poll prepared nothing more
    assert sum(first_line(FEED_SQL) in statement for statement in after_one) == 1
    assert sorted(prepared_statements()) == sorted(after_one)


@pytest.mark.django_db(transaction=True)
def test_turned_off_the_same_statements_run_unprepared(world):
    # Given a new connection that prepares nothing (DATABASE_PREPARED_STATEMENTS=false)
    connection.close()
    connection.ensure_connection()
    connection.connection.prepare_threshold = None
    try:
        # When a partner posts an inbound event
        response = post(world, "09:00")
        # Then it is accepted, and nothing was prepared
        assert response.status_code == 202, response.content
        assert prepared_statements() == []
    finally:
        connection.close()


def test_a_database_error_comes_out_as_djangos():
    with pytest.raises(DatabaseError), prepared_cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table", prepare=True)


def test_a_broken_transaction_is_refused_as_by_djangos_cursors():
    with transaction.atomic():
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(savepoint=False),
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT * FROM no_such_table")
        with pytest.raises(TransactionManagementError), prepared_cursor():
            pass


def test_nested_uses_do_not_share_a_cursor():
    with prepared_cursor() as outer:
        outer.execute("SELECT 1", prepare=True)
        with prepared_cursor() as inner:
            assert inner is not outer
            inner.execute("SELECT 2", prepare=True)
        assert outer.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_statement_a_migration_made_stale_fails_once_then_runs_again():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (x integer)")
        cursor.execute("INSERT INTO prepared_probe VALUES (1)")
    try:
        # Given a prepared statement
        with prepared_cursor() as cursor:
            cursor.execute("SELECT x FROM prepared_probe", prepare=True)
        # When a migration, on another connection, changes what it returns
        with psycopg.connect(**database_params(), autocommit=True) as other:
            other.execute("ALTER TABLE prepared_probe ALTER COLUMN x TYPE bigint")
        # Then the next run fails, as Django's error
        with pytest.raises(NotSupportedError), prepared_cursor() as cursor:
            cursor.execute("SELECT x FROM prepared_probe", prepare=True)
        # And the one after runs on a new connection
        with prepared_cursor() as cursor:
            cursor.execute("SELECT x FROM prepared_probe", prepare=True)
            assert cursor.fetchone() == (1,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE prepared_probe")
