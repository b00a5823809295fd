"""Composite foreign keys so PostgreSQL itself keeps a decision table, its actions and its
audit trail inside one organization. See healix/db.py."""

from django.db import migrations

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0001_initial"),
        ("plans", "0004_status_change_queue"),
        ("templates", "0004_plain_word_labels"),
    ]

    operations = [
        SameScopeForeignKey("rulecolumn", "template"),
        SameScopeForeignKey("rule", "template"),
        SameScopeForeignKey("ruleaction", "rule"),
        SameScopeForeignKey("ruleaction", "form_assignment"),
        SameScopeForeignKey("ruleaction", "work_queue"),
        SameScopeForeignKey("ruleevaluation", "template"),
        SameScopeForeignKey("ruleevaluation", "plan"),
    ]
