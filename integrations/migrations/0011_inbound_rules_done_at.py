"""`ready_at` said "ready" where it meant "the rules are done with it": renamed, same data.

PostgreSQL rewrites the partial index's predicate with the column; only Django's state of the
index changes, so the index is not rebuilt.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0010_encrypt_webhook_secrets"),
    ]

    operations = [
        migrations.RenameField(
            model_name="inboundevent",
            old_name="ready_at",
            new_name="rules_done_at",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="inboundevent",
                    name="inbound_pending_rules",
                ),
                migrations.AddIndex(
                    model_name="inboundevent",
                    index=models.Index(
                        condition=models.Q(("rules_done_at__isnull", True), ("status", "accepted")),
                        fields=["received_at"],
                        name="inbound_pending_rules",
                    ),
                ),
            ],
        ),
    ]
