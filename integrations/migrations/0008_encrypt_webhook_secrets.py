"""Signing secrets and custom headers encrypted at rest (healix/encryption.py): the columns
become text holding Fernet tokens, and every existing row is encrypted (decrypted back on the
way down, before custom_headers is jsonb again)."""

from django.db import migrations

import healix.encryption
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
        ("integrations", "0007_inbound_event_fewer_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="httpintegration",
            name="custom_headers",
            field=healix.encryption.EncryptedJSONField(
                blank=True, default=dict, help_text='Extra request headers, e.g. {"X-Api-Key": "..."}.'
            ),
        ),
        migrations.AlterField(
            model_name="httpintegration",
            name="previous_secret",
            field=healix.encryption.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="httpintegration",
            name="secret",
            field=healix.encryption.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
