"""Create or update the superuser that `make run` prints, so that its password always works."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from healix.models import UserType


class Command(BaseCommand):
    help = "Create the superuser `admin` (or reset its password) from $HEALIX_ADMIN_PASSWORD."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        # From the environment rather than argv: argv is visible to every user in `ps`.
        password = os.environ.get("HEALIX_ADMIN_PASSWORD")
        if not password:
            raise CommandError("Set HEALIX_ADMIN_PASSWORD.")
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": True, "user_type": UserType.ADMIN},
        )
        if user.organization_id is not None:
            # An organization's own user who happens to be called "admin" must never become a
            # platform superuser by way of `make run`.
            raise CommandError(
                f"User {username} belongs to organization {user.organization}; "
                "choose another --username for the platform superuser."
            )
        if not created and user.check_password(password) and user.is_superuser:
            return
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"{'Created' if created else 'Updated'} superuser {username}.")
