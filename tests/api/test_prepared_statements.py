"""The hot statements of a REST request are prepared once per database connection (Django's
server_side_binding with psycopg's automatic preparation, healix/prepared_statements.py),
preparing can be turned off, and a statement a migration made stale fails only once."""

import psycopg
import pytest
from django.db import NotSupportedError, connection

from events.relay import database_params
from healix.sql import KEY_SQL
from integrations.sql import PLANS_BY_ID_SQL, STORE_SQL

pytestmark = pytest.mark.django_db
SUBJECT = "aiEngineTimeSlot"  # the world's template listens to it (tests/fixtures/api.py)
# psycopg runs a statement unprepared `prepare_threshold` (5) times on a connection, then
# prepares it.
PREPARED_AFTER = 6


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


def times_prepared(sql: str) -> int:
    return sum(first_line(sql) in statement for statement in prepared_statements())


def test_the_key_plan_and_store_statements_are_prepared_once_per_connection(world):
    # When a partner posts inbound events on the same connection, more than the threshold
    for minute in range(PREPARED_AFTER + 3):
        assert post(world, f"10:0{minute}").status_code == 202
    # Then the key lookup, the plan lookup and the store are prepared, once each however many
    # requests ran them
    assert [times_prepared(sql) for sql in (KEY_SQL, PLANS_BY_ID_SQL, STORE_SQL)] == [1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_turned_off_the_same_statements_run_unprepared(world):
    # Given a new connection that prepares nothing (DATABASE_PREPARED_STATEMENTS=false)
    connection.close()
    connection.ensure_connection()
    connection.connection.prepare_threshold = None
    try:
        # When a partner posts inbound events
        for minute in range(PREPARED_AFTER + 1):
            response = post(world, f"09:0{minute}")
            # Then they are accepted, and nothing was prepared
            assert response.status_code == 202, response.content
        assert prepared_statements() == []
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_statement_a_migration_made_stale_fails_once_then_runs_again():
    select = "SELECT x FROM prepared_probe WHERE x = %s"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE prepared_probe (x integer)")
        cursor.execute("INSERT INTO prepared_probe VALUES (1)")
    try:
        # Given a prepared statement, outside any transaction
        for _run in range(PREPARED_AFTER):
            with connection.cursor() as cursor:
                cursor.execute(select, [1])
        assert any("prepared_probe" in statement for statement in prepared_statements())
        # When a migration, on another connection, changes what it returns
        with psycopg.connect(**database_params(), autocommit=True) as other:
            other.execute("ALTER TABLE prepared_probe ALTER COLUMN x TYPE bigint")
        # Then the next run fails, as Django's error
        with pytest.raises(NotSupportedError), connection.cursor() as cursor:
            cursor.execute(select, [1])
        # And the one after runs, on a new connection (without the wrapper, every later run
        # on this connection failed the same way)
        with connection.cursor() as cursor:
            cursor.execute(select, [1])
            assert cursor.fetchone() == (1,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE prepared_probe")
