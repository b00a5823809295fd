"""`manage.py create_api_key --org <orgId> --name <name> --scope <scope> [--scope ...]
[--expires <RFC 3339>]`: print a new organization API key. It is shown once; only its hash is
stored. `--scope all` gives every scope (healix/api/scopes.py lists them)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from healix.api.scopes import Scope
from healix.models import Organization, OrganizationAPIKey

ALL = "all"


class Command(BaseCommand):
    help = "Create an API key for one organization and print it (shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="The orgId, for example hrh.")
        parser.add_argument("--name", required=True, help="What the key is for (50 chars).")
        parser.add_argument("--expires", help="Optional expiry, e.g. 2027-01-01T00:00:00Z.")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            help=f"What the key may do (repeat, or separate with commas; '{ALL}' for every "
            f"scope): {', '.join(Scope.values)}.",
        )

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization {options['org']}.")
        name = options["name"]
        if not 0 < len(name) <= 50:
            raise CommandError("--name takes 1 to 50 characters.")
        expiry = None
        if options["expires"]:
            expiry = parse_datetime(options["expires"])
            if expiry is None or expiry.tzinfo is None:
                raise CommandError("--expires takes an RFC 3339 date-time with a time zone.")
        scopes = _scopes(options["scope"])
        _, key = OrganizationAPIKey.objects.create_key(
            organization=organization, name=name, expiry_date=expiry, scopes=scopes
        )
        self.stdout.write(key)


def _scopes(given: list[str]) -> list[str]:
    names = [name.strip() for value in given for name in value.split(",") if name.strip()]
    if not names:
        raise CommandError(f"Give at least one --scope: {', '.join(Scope.values)} or {ALL}.")
    if ALL in names:
        return list(Scope.values)
    unknown = [name for name in names if name not in Scope.values]
    if unknown:
        raise CommandError(
            f"Unknown scope(s) {', '.join(unknown)}; use {', '.join(Scope.values)} or {ALL}."
        )
    return list(dict.fromkeys(names))
