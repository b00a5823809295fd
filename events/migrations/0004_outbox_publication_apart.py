"""Publication recorded apart from the event's row: the relay's queue (OutboxPending) and the
publication times (OutboxPublication), so the relay's mark no longer updates the outbox.

Safe on a live outbox, written to by the release before this one while it runs:

1. the two tables, and a trigger on the outbox that copies every publication the running relay
   marks from now on (CREATE TRIGGER waits for the marks in flight, so a mark either committed
   before step 2 reads its rows, or fires the trigger);
2. the publications marked before, copied in batches of ids, each its own transaction: writes
   go on meanwhile;
3. one short transaction holding the outbox exclusively: the unpublished rows (few, read by
   their partial index) become pending rows, then the trigger, that index and the three columns
   are dropped (dropping a column only changes the catalog). The previous release then fails
   loudly on the missing columns rather than write an event no relay would see.

Backwards, the columns come back filled from the two tables (an UPDATE of every row: for an
emergency, not a live table), with the partial index.
"""

import django.db.models.deletion
from django.db import migrations, models, transaction

OUTBOX = "events_outboxevent"
PENDING = "events_outboxpending"
PUBLICATION = "events_outboxpublication"
BATCH = 10_000

COPY_MARKS_SQL = f"""
CREATE FUNCTION events_outbox_copy_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {PUBLICATION} (id, published_at, attempts)
    VALUES (NEW.id, NEW.published_at, NEW.attempts) ON CONFLICT (id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER events_outbox_copy_mark AFTER UPDATE OF published_at ON {OUTBOX}
FOR EACH ROW WHEN (NEW.published_at IS NOT NULL) EXECUTE FUNCTION events_outbox_copy_mark();
"""
DROP_COPY_MARKS_SQL = f"""
DROP TRIGGER IF EXISTS events_outbox_copy_mark ON {OUTBOX};
DROP FUNCTION IF EXISTS events_outbox_copy_mark();
"""
COPY_BATCH_SQL = f"""
INSERT INTO {PUBLICATION} (id, published_at, attempts)
SELECT id, published_at, attempts FROM {OUTBOX}
WHERE id > %s AND id <= %s AND published_at IS NOT NULL
ON CONFLICT (id) DO NOTHING
"""
SWITCH_SQL = f"""
LOCK TABLE {OUTBOX} IN ACCESS EXCLUSIVE MODE;
INSERT INTO {PENDING} (id, attempts, last_error)
SELECT id, attempts, last_error FROM {OUTBOX} WHERE published_at IS NULL
ON CONFLICT (id) DO NOTHING;
{DROP_COPY_MARKS_SQL}
DROP INDEX outbox_unpublished;
ALTER TABLE {OUTBOX} DROP COLUMN published_at, DROP COLUMN attempts, DROP COLUMN last_error;
"""
SWITCH_BACK_SQL = f"""
LOCK TABLE {OUTBOX} IN ACCESS EXCLUSIVE MODE;
ALTER TABLE {OUTBOX}
    ADD COLUMN published_at timestamp with time zone NULL,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN last_error text NOT NULL DEFAULT '';
ALTER TABLE {OUTBOX} ALTER COLUMN attempts DROP DEFAULT, ALTER COLUMN last_error DROP DEFAULT;
UPDATE {OUTBOX} o SET published_at = p.published_at, attempts = p.attempts
FROM {PUBLICATION} p WHERE p.id = o.id;
UPDATE {OUTBOX} o SET attempts = p.attempts, last_error = p.last_error
FROM {PENDING} p WHERE p.id = o.id;
CREATE INDEX outbox_unpublished ON {OUTBOX} (id) WHERE published_at IS NULL;
"""


def copy_publications(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {OUTBOX}")
        (last,) = cursor.fetchone()
        for first in range(0, last, BATCH):
            with transaction.atomic(using=connection.alias):
                cursor.execute(COPY_BATCH_SQL, [first, first + BATCH])


def switch(apps, schema_editor) -> None:
    with transaction.atomic(using=schema_editor.connection.alias):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(SWITCH_SQL)


def switch_back(apps, schema_editor) -> None:
    with transaction.atomic(using=schema_editor.connection.alias):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(SWITCH_BACK_SQL)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0003_outbox_transaction_id"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxPending",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_column="id",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="pending",
                        serialize=False,
                        to="events.outboxevent",
                    ),
                ),
                (
                    "attempts",
                    models.PositiveIntegerField(default=0, help_text="Publish attempts so far."),
                ),
                (
                    "last_error",
                    models.TextField(blank=True, help_text="Why the last attempt failed, if it did."),
                ),
            ],
            options={
                "verbose_name": "pending event",
            },
        ),
        migrations.CreateModel(
            name="OutboxPublication",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_column="id",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="publication",
                        serialize=False,
                        to="events.outboxevent",
                    ),
                ),
                (
                    "published_at",
                    models.DateTimeField(help_text="When JetStream acknowledged the event."),
                ),
                (
                    "attempts",
                    models.PositiveIntegerField(
                        help_text="Publish attempts, the one acknowledged included."
                    ),
                ),
            ],
            options={
                "verbose_name": "publication",
            },
        ),
        migrations.RunSQL(COPY_MARKS_SQL, DROP_COPY_MARKS_SQL),
        migrations.RunPython(copy_publications, migrations.RunPython.noop, atomic=False),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="outboxevent", name="outbox_unpublished"),
                migrations.RemoveField(model_name="outboxevent", name="attempts"),
                migrations.RemoveField(model_name="outboxevent", name="last_error"),
                migrations.RemoveField(model_name="outboxevent", name="published_at"),
            ],
            database_operations=[
                migrations.RunPython(switch, switch_back, atomic=False),
            ],
        ),
    ]
