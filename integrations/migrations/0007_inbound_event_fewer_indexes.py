"""Two indexes fewer on the table every inbound message is written to: the plain index on
organization_id, which (organization_id, received_at) already serves, and OrganizationOwned's
unique (organization_id, id), which no composite foreign key needs (nothing refers to an
inbound event). Only the index is dropped: Django's AlterField would also drop and re-add the
foreign key, checking every row again."""

import django.db.models.deletion
from django.db import migrations, models

ORGANIZATION_INDEX = "integrations_inboundevent_organization_id_82b6cd85"


class Migration(migrations.Migration):
    dependencies = [
        ("healix", "0007_api_idempotency_and_throttling"),
        ("integrations", "0006_inbound_pending_rules"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="inboundevent",
            name="integrations_inboundevent_organization_id_unique",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundevent",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="healix.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {ORGANIZATION_INDEX}",
                    "CREATE INDEX IF NOT EXISTS "
                    f"{ORGANIZATION_INDEX} ON integrations_inboundevent (organization_id)",
                ),
            ],
        ),
    ]
