"""No index on the rule evaluations that another one's leading column already gives.

`organization_id` is led by the unique (organization_id, id), `plan_id` by
ruleevaluation_plan_time (plan_id, evaluated_at); trace_id's LIKE twin served no query (the
admin's search matches substrings), and its plain index becomes one named in the model's
Meta, built first, so lookups by trace id always have one. Each dropped index was one more
entry for every audit record.

Written as SQL: Django's own AlterField would drop and re-add the foreign keys, whose check
reads the whole table while it blocks writes. Here nothing blocks writes (CONCURRENTLY).
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# The indexes Django made for the fields (their names are the same in every database).
REDUNDANT = {
    "rules_ruleevaluation_organization_id_640df6ce": "(organization_id)",
    "rules_ruleevaluation_plan_id_db116a38": "(plan_id)",
    "rules_ruleevaluation_trace_id_8a802dc9_like": "(trace_id varchar_pattern_ops)",
    "rules_ruleevaluation_trace_id_8a802dc9": "(trace_id)",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("healix", "0012_organizationapikey_partner"),
        ("plans", "0004_status_change_queue"),
        ("rules", "0004_inbound_plan_ids_no_pending_list"),
        ("templates", "0004_plain_word_labels"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ruleevaluation",
            index=models.Index(fields=["trace_id"], name="ruleevaluation_trace_id"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ruleevaluation",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="healix.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="ruleevaluation",
                    name="plan",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rule_evaluations",
                        to="plans.plan",
                    ),
                ),
                migrations.AlterField(
                    model_name="ruleevaluation",
                    name="trace_id",
                    field=models.CharField(blank=True, max_length=64, verbose_name="traceId"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} "
                    f"ON rules_ruleevaluation {columns}",
                )
                for name, columns in REDUNDANT.items()
            ],
        ),
    ]
