"""Composite foreign keys so PostgreSQL itself keeps an integration inside its template's
organization. See healix/db.py."""

from django.db import migrations

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("templates", "0002_same_scope_foreign_keys"),
    ]

    operations = [
        SameScopeForeignKey("integrationdefinition", "template"),
    ]
