"""The rules' plan_ids GIN index without its pending list (fastupdate).

With fastupdate, new entries wait in an unsorted pending list until a vacuum or 4 MB of them,
and every search reads the whole list for each of its keys: the rules ask for a batch's 500
plans at once, so a search over a full list took about 240 ms instead of 3 (docs/performance.md,
"The rules"). Each insert now pays one entry's insertion into the index instead.

The entries already pending are moved into the index here (gin_clean_pending_list), which
is what a vacuum would do: on a big table it takes a while, without blocking inserts.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0003_inbound_events_by_plan"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER INDEX IF EXISTS rules_inboundevent_plan_ids SET (fastupdate = off)",
            "ALTER INDEX IF EXISTS rules_inboundevent_plan_ids RESET (fastupdate)",
        ),
        migrations.RunSQL(
            "SELECT gin_clean_pending_list('rules_inboundevent_plan_ids'::regclass)",
            migrations.RunSQL.noop,
        ),
    ]
