"""Composite foreign keys so PostgreSQL itself keeps references inside one organization
(and a work queue item's status and service location inside its queue). See healix/db.py.

The acting-user columns (created_by, assigned_by, ...) are left out on purpose: a platform
superuser, who has no organization, may act on any organization's rows."""

from django.db import migrations

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0001_initial"),
        ("templates", "0002_same_scope_foreign_keys"),
    ]

    operations = [
        SameScopeForeignKey("plan", "template"),
        SameScopeForeignKey("plan", "user"),
        SameScopeForeignKey("roleassignment", "plan"),
        SameScopeForeignKey("roleassignment", "role"),
        SameScopeForeignKey("roleassignment", "user"),
        SameScopeForeignKey("formassignment", "plan"),
        SameScopeForeignKey("formassignment", "definition"),
        SameScopeForeignKey("formassignment", "user"),
        SameScopeForeignKey("formsubmission", "assignment"),
        SameScopeForeignKey("workqueueitem", "queue"),
        SameScopeForeignKey("workqueueitem", "plan"),
        SameScopeForeignKey("workqueueitem", "status", scope="queue"),
        SameScopeForeignKey("workqueueitem", "service_location", scope="queue"),
        SameScopeForeignKey("workqueueitemstatuschange", "item"),
    ]
