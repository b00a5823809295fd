"""An index the rules need on integrations' table: `integration.<subject>.<field>` reads the
accepted events whose plan_ids contain the plan (rules/data.py), on every evaluation. Without
it each evaluation scans every event of the organization's subject."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0002_same_scope_foreign_keys"),
        ("integrations", "0002_same_scope_foreign_keys"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS rules_inboundevent_plan_ids "
            "ON integrations_inboundevent USING gin (plan_ids)",
            "DROP INDEX IF EXISTS rules_inboundevent_plan_ids",
        ),
    ]
