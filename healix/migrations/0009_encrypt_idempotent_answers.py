"""Every stored idempotent answer encrypted (decrypted on the way down)."""

from django.db import migrations

from healix.encryption import decrypt, encrypt, rewrite_column


def encrypt_rows(apps, schema_editor):
    rewrite_column(apps.get_model("healix", "IdempotentRequest"), "response_body", encrypt)


def decrypt_rows(apps, schema_editor):
    rewrite_column(apps.get_model("healix", "IdempotentRequest"), "response_body", decrypt)


class Migration(migrations.Migration):

    dependencies = [
        ("healix", "0008_encrypted_idempotent_answer_column"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
