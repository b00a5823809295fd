"""`manage.py relay_events`: publish the outbox to JetStream until SIGTERM / Ctrl-C."""

import asyncio

from django.core.management.base import BaseCommand

from bus.commands import run_until_signalled
from events.relay import Relay, RelayConfig


class Command(BaseCommand):
    help = "Publish outbox events to NATS JetStream (see events/relay.py)."

    def handle(self, *args, **options) -> None:
        run_until_signalled(self._run)

    async def _run(self, stop: asyncio.Event) -> None:
        relay = Relay(RelayConfig.from_settings())
        self.stdout.write(f"relay {relay.relay_id} started", ending="\n")
        self.stdout.flush()
        await relay.run(stop)
        self.stdout.write(f"relay {relay.relay_id} stopped: {relay.stats}")
