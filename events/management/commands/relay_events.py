"""`manage.py relay_events`: publish the outbox to JetStream until SIGTERM / Ctrl-C."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from events.relay import Relay, RelayConfig


class Command(BaseCommand):
    help = "Publish outbox events to NATS JetStream (see events/relay.py)."

    def handle(self, *args, **options) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        relay = Relay(RelayConfig.from_settings())
        self.stdout.write(f"relay {relay.relay_id} started", ending="\n")
        self.stdout.flush()
        await relay.run(stop)
        self.stdout.write(f"relay {relay.relay_id} stopped: {relay.stats}")
