"""Prune every kind of record past its retention period now, as beat does every
HEALIX_RETENTION_SWEEP_SECONDS (docs/operations.md#retention)."""

from django.core.management.base import BaseCommand

from healix import retention


class Command(BaseCommand):
    help = "Prune the records past their retention period (or, with --dry-run, count them)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be pruned; change nothing."
        )
        parser.add_argument(
            "--run-seconds",
            type=float,
            default=None,
            help="Start no batch after this long (default HEALIX_RETENTION_RUN_SECONDS).",
        )

    def handle(self, *args, dry_run: bool, run_seconds: float | None, **options) -> None:
        counts = retention.prune(dry_run=dry_run, run_seconds=run_seconds)
        periods = {kind.name: kind.period() for kind in retention.kinds()}
        verb = "would prune" if dry_run else "pruned"
        for kind in retention.kinds():
            if kind.name not in counts:
                self.stdout.write(f"{kind.name}: kept for ever ({kind.setting}=0)")
                continue
            self.stdout.write(
                f"{kind.name}: {verb} {counts[kind.name]} (older than {periods[kind.name]})"
            )
