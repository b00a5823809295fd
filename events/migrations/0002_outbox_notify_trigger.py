"""Wake the relay at commit: a statement trigger on the outbox runs pg_notify.

NOTIFY is transactional: PostgreSQL delivers it when the inserting transaction commits and
drops it on rollback, and repeats within one transaction fold into one. So the relay hears of exactly the commits that
wrote events, with no on_commit hook and no extra round trip.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('healix_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_outbox_notify
    AFTER INSERT ON events_outboxevent
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS events_outbox_notify ON events_outboxevent;
DROP FUNCTION IF EXISTS events_outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
