from django.core.management.base import BaseCommand

from dev.demo import DEMO_ORG_SLUG, load_demo
from healix.observability.tracing import trace


class Command(BaseCommand):
    help = f"Load the demo organization {DEMO_ORG_SLUG!r} (once; a second run changes nothing)."

    def handle(self, *args, **options) -> None:
        # The command is an edge: everything the demo does shares one trace id.
        with trace():
            portal_link = load_demo()
        if portal_link:
            self.stdout.write(self.style.SUCCESS(f"Loaded the demo organization {DEMO_ORG_SLUG}."))
            self.stdout.write(
                "The demo partner's portal (read-only, single use, for an hour; docs/portal.md): "
                f"{portal_link} on the web address below."
            )
        else:
            self.stdout.write(f"The demo organization {DEMO_ORG_SLUG} is already loaded.")
