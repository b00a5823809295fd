"""The three tables and four flags the subscriptions replaced (0013 carried their rows over).
Backwards they come back empty, with their composite keys, and 0013 fills them again."""

from django.db import migrations

from healix.db import DropSameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0013_carry_webhook_choices"),
    ]

    operations = [
        DropSameScopeForeignKey("httpintegrationtemplate", "integration"),
        DropSameScopeForeignKey("httpintegrationtemplate", "template"),
        DropSameScopeForeignKey("httpintegrationform", "integration"),
        DropSameScopeForeignKey("httpintegrationform", "form"),
        DropSameScopeForeignKey("httpintegrationworkqueue", "integration"),
        DropSameScopeForeignKey("httpintegrationworkqueue", "work_queue"),
        migrations.RemoveField(
            model_name="httpintegration",
            name="form_submitted_all",
        ),
        migrations.RemoveField(
            model_name="httpintegration",
            name="plan_created_all",
        ),
        migrations.RemoveField(
            model_name="httpintegration",
            name="plan_updated_all",
        ),
        migrations.RemoveField(
            model_name="httpintegration",
            name="status_updated_all",
        ),
        migrations.DeleteModel(
            name="HttpIntegrationForm",
        ),
        migrations.DeleteModel(
            name="HttpIntegrationTemplate",
        ),
        migrations.DeleteModel(
            name="HttpIntegrationWorkQueue",
        ),
    ]
