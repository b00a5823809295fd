"""After a key rotation: every secret stored encrypted, re-encrypted under the first key of
HEALIX_ENCRYPTION_KEYS. Then the other keys can be dropped (docs/operations.md)."""

from django.core.management.base import BaseCommand, CommandError

from healix.encryption import UndecryptableValue, encrypted_fields, rewrite_column, rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column under the first key of HEALIX_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        for model, field in encrypted_fields():
            try:
                count = rewrite_column(model, field.name, rotate)
            except UndecryptableValue as error:
                raise CommandError(f"{model._meta.label}.{field.name}: {error}") from None
            self.stdout.write(f"{model._meta.label}.{field.name}: {count} re-encrypted")
