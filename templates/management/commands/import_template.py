"""manage.py import_template --org hrh sAI-ERComp.json [--replace]   (or - for stdin)"""

import sys

from django.core.management.base import BaseCommand, CommandError

from healix.models import Organization
from templates.transfer import TemplateImportError, import_template, read_document


class Command(BaseCommand):
    help = (
        "Create a plan template from a template document (docs/template-format.md). "
        "Nothing is written unless the whole document is valid."
    )
    stealth_options = ("stdin",)  # lets tests pass a stream for "-"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="The organization's orgId, e.g. hrh.")
        parser.add_argument("file", help="The document's path, or - for standard input.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Redefine an existing template of the same name (refused if it has plans).",
        )

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with orgId {options['org']!r}.")
        try:
            data = self._read(options)
            template = import_template(
                organization=organization, document=data, replace=options["replace"]
            )
        except TemplateImportError as error:
            for problem in error.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"Template import refused: {len(error.problems)} problem(s); nothing was written."
            ) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported template {template.name} into {organization.slug} (id {template.pk})."
            )
        )

    def _read(self, options) -> bytes:
        if options["file"] == "-":
            return read_document(options.get("stdin") or sys.stdin.buffer)
        try:
            with open(options["file"], "rb") as stream:
                return read_document(stream)
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}.") from error
