"""Stored idempotent answers become a text column for Fernet tokens (healix/encryption.py):
the first answer of a webhook's create or rotate-secret carries its signing secret. 0009
encrypts the rows, in its own transaction."""

from django.db import migrations

import healix.encryption


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
    ]
