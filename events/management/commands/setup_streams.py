"""`manage.py setup_streams`: create or update the JetStream stream HEALIX_EVENTS."""

import asyncio

import nats
from django.conf import settings
from django.core.management.base import BaseCommand

from events.streams import StreamSetup, ensure_events_stream


class Command(BaseCommand):
    help = "Create or update the JetStream stream of outgoing events (idempotent)."

    def handle(self, *args, **options) -> None:
        setup = asyncio.run(self._setup(settings.NATS_URL))
        config = setup.config
        self.stdout.write(
            f"Stream {setup.name} {'created' if setup.created else 'up to date'}: "
            f"subjects {', '.join(config.subjects or [])}, file storage, "
            f"max age {config.max_age:.0f}s, duplicate window {config.duplicate_window:.0f}s, "
            f"replicas {config.num_replicas}."
        )

    async def _setup(self, url: str) -> StreamSetup:
        nc = await nats.connect(url, max_reconnect_attempts=3)
        try:
            return await ensure_events_stream(nc.jetstream())
        finally:
            await nc.close()
