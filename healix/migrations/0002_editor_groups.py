"""The editor groups "Content managers" and "Administrators" (see healix/groups.py)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from healix.groups import sync_groups

    sync_groups(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("healix", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("templates", "0002_same_scope_foreign_keys"),
        ("plans", "0002_same_scope_foreign_keys"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
