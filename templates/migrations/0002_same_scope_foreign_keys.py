"""Composite foreign keys so PostgreSQL itself keeps references inside one organization
(and a form assignment's form and role inside its template). See healix/db.py."""

from django.db import migrations

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("templates", "0001_initial"),
    ]

    operations = [
        SameScopeForeignKey("role", "template"),
        SameScopeForeignKey("form", "template"),
        SameScopeForeignKey("customfield", "template"),
        SameScopeForeignKey("formassignmentdefinition", "template"),
        SameScopeForeignKey("formassignmentdefinition", "form"),
        SameScopeForeignKey("formassignmentdefinition", "role"),
        SameScopeForeignKey("formassignmentdefinition", "form", scope="template"),
        SameScopeForeignKey("formassignmentdefinition", "role", scope="template"),
    ]
