"""Signing secrets and custom headers become text columns for Fernet tokens
(healix/encryption.py); 0009 encrypts the rows. Two migrations, two transactions: on the way
down the rows are decrypted and committed before custom_headers is jsonb again (PostgreSQL
refuses an ALTER TABLE after updates in the same transaction)."""

from django.db import migrations

import healix.encryption


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0008_inbound_rules_failure"),
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
    ]
