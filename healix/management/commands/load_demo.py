from django.core.management.base import BaseCommand

from healix.demo import DEMO_ORG_SLUG, load_demo


class Command(BaseCommand):
    help = f"Load the demo organization {DEMO_ORG_SLUG!r} (once; a second run changes nothing)."

    def handle(self, *args, **options) -> None:
        if load_demo():
            self.stdout.write(self.style.SUCCESS(f"Loaded the demo organization {DEMO_ORG_SLUG}."))
        else:
            self.stdout.write(f"The demo organization {DEMO_ORG_SLUG} is already loaded.")
