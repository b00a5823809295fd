"""Composite foreign keys so PostgreSQL itself keeps an HTTP integration's choices, deliveries
and operational events inside its organization. See healix/db.py."""

from django.db import migrations

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_http_integrations"),
        ("templates", "0002_same_scope_foreign_keys"),
    ]

    operations = [
        SameScopeForeignKey("httpintegrationtemplate", "integration"),
        SameScopeForeignKey("httpintegrationtemplate", "template"),
        SameScopeForeignKey("httpintegrationform", "integration"),
        SameScopeForeignKey("httpintegrationform", "form"),
        SameScopeForeignKey("httpintegrationworkqueue", "integration"),
        SameScopeForeignKey("httpintegrationworkqueue", "work_queue"),
        SameScopeForeignKey("webhookdelivery", "integration"),
        SameScopeForeignKey("httpintegrationevent", "integration"),
    ]
