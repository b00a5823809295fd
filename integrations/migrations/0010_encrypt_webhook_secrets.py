"""Every existing signing secret and custom header value encrypted (decrypted on the way
down, before 0008 turns custom_headers back into jsonb)."""

from django.db import migrations

from healix.encryption import decrypt, encrypt, rewrite_column

COLUMNS = ("secret", "previous_secret", "custom_headers")


def encrypt_rows(apps, schema_editor):
    model = apps.get_model("integrations", "HttpIntegration")
    for name in COLUMNS:
        rewrite_column(model, name, encrypt)


def decrypt_rows(apps, schema_editor):
    model = apps.get_model("integrations", "HttpIntegration")
    for name in COLUMNS:
        rewrite_column(model, name, decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0009_encrypted_webhook_secret_columns"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
