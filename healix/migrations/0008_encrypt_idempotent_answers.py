"""Stored idempotent answers encrypted at rest (healix/encryption.py): the first answer of a
webhook's create or rotate-secret carries its signing secret."""

from django.db import migrations

import healix.encryption
from healix.encryption import decrypt, encrypt, rewrite_column


def encrypt_rows(apps, schema_editor):
    rewrite_column(apps.get_model("healix", "IdempotentRequest"), "response_body", encrypt)


def decrypt_rows(apps, schema_editor):
    rewrite_column(apps.get_model("healix", "IdempotentRequest"), "response_body", decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("healix", "0007_api_idempotency_and_throttling"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotentrequest",
            name="response_body",
            field=healix.encryption.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
