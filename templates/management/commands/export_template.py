"""manage.py export_template --org hrh sAI-ERComp [-o sAI-ERComp.json]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from healix.models import Organization
from templates.models import PlanTemplate
from templates.transfer import dumps_document, export_template


class Command(BaseCommand):
    help = "Write a plan template as a template document (docs/template-format.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="The organization's orgId, e.g. hrh.")
        parser.add_argument("template_name", help="The template's name, e.g. sAI-ERComp.")
        parser.add_argument("-o", "--output", help="Write to this file instead of standard output.")

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with orgId {options['org']!r}.")
        template = PlanTemplate.objects.filter(
            organization=organization, name=options["template_name"]
        ).first()
        if template is None:
            raise CommandError(
                f"Organization {organization.slug} has no template named "
                f"{options['template_name']!r}."
            )
        text = dumps_document(export_template(template))
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote template {template.name} to {options['output']}.")
        else:
            self.stdout.write(text, ending="")
