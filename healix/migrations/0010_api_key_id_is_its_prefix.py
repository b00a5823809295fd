"""API keys named by their prefix, no longer "<prefix>.<hashed key>" (the library's id): the
admin's URLs, redirects and history links carried the stored hash into access logs. The
throttling window and the admin history of each key follow it; the hash stays in hashed_key.
Foreign keys are checked at commit, so the key and its references change in one transaction."""

from django.db import migrations


def rename(apps, new_id) -> None:
    keys = apps.get_model("healix", "OrganizationAPIKey")
    windows = apps.get_model("healix", "ApiRateWindow")
    log = apps.get_model("admin", "LogEntry")
    content_type = apps.get_model("contenttypes", "ContentType").objects.filter(
        app_label="healix", model="organizationapikey"
    )
    for old, prefix, hashed in keys.objects.values_list("id", "prefix", "hashed_key"):
        new = new_id(prefix, hashed)
        if new == old:
            continue
        windows.objects.filter(api_key_id=old).update(api_key_id=new)
        log.objects.filter(content_type__in=content_type, object_id=old).update(object_id=new)
        keys.objects.filter(id=old).update(id=new)


def by_prefix(apps, schema_editor):
    rename(apps, lambda prefix, hashed: prefix)


def as_the_library_names_them(apps, schema_editor):
    rename(apps, lambda prefix, hashed: f"{prefix}.{hashed}")


class Migration(migrations.Migration):

    dependencies = [
        ("healix", "0009_encrypt_idempotent_answers"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(by_prefix, as_the_library_names_them),
    ]
