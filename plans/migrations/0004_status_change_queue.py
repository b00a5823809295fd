"""Status changes carry their item's queue, so PostgreSQL keeps the item and both statuses
inside that queue (composite keys, see healix/db.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from healix.db import SameScopeForeignKey


def copy_queue_from_item(apps, schema_editor):
    StatusChange = apps.get_model("plans", "WorkQueueItemStatusChange")
    WorkQueueItem = apps.get_model("plans", "WorkQueueItem")
    StatusChange.objects.update(
        queue_id=models.Subquery(
            WorkQueueItem.objects.filter(pk=models.OuterRef("item_id")).values("queue_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0003_plain_word_labels"),
        ("templates", "0004_plain_word_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="workqueueitemstatuschange",
            name="queue",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="templates.workqueue",
            ),
        ),
        migrations.RunPython(copy_queue_from_item, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="workqueueitemstatuschange",
            name="queue",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="templates.workqueue",
            ),
        ),
        migrations.AlterField(
            model_name="workqueueitemstatuschange",
            name="changed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="workqueueitemstatuschange",
            name="old_status",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty for the status an item was created in.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="templates.workqueuestatus",
            ),
        ),
        migrations.AddConstraint(
            model_name="workqueueitem",
            constraint=models.UniqueConstraint(
                fields=("queue", "id"), name="workqueueitem_queue_id_unique"
            ),
        ),
        SameScopeForeignKey("workqueueitemstatuschange", "queue"),
        SameScopeForeignKey("workqueueitemstatuschange", "item", scope="queue"),
        SameScopeForeignKey("workqueueitemstatuschange", "old_status", scope="queue"),
        SameScopeForeignKey("workqueueitemstatuschange", "new_status", scope="queue"),
    ]
