"""Where an inbound event's rules failure is recorded: how often beat's sweep handed it over
again, when it may next, and why the rules could not finish. Constant defaults (no table
rewrite), also in the database, since ingest's INSERT names only the columns it fills."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0007_inbound_event_fewer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboundevent",
            name="rules_error",
            field=models.TextField(
                blank=True,
                db_default="",
                help_text="Why the rules could not finish with it, the last time they failed.",
                verbose_name="rules failure",
            ),
        ),
        migrations.AddField(
            model_name="inboundevent",
            name="rules_retries",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="Times beat's sweep handed it to the rules again (given up at the limit).",
            ),
        ),
        migrations.AddField(
            model_name="inboundevent",
            name="rules_retry_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Not handed to the rules again before this (a delay doubling per retry).",
                null=True,
            ),
        ),
    ]
