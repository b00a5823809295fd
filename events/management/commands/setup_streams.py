"""`manage.py setup_streams`: create or update the JetStream streams HEALIX_EVENTS and
HEALIX_INBOUND, with their durable consumers (healix-webhooks, healix-inbound)."""

import asyncio

import nats
from django.conf import settings
from django.core.management.base import BaseCommand

from events.streams import StreamSetup, ensure_events_stream
from integrations.streams import ensure_inbound_consumer, ensure_inbound_stream
from integrations.webhook_bus import ensure_webhooks_consumer


class Command(BaseCommand):
    help = "Create or update the JetStream streams of outgoing and inbound events (idempotent)."

    def handle(self, *args, **options) -> None:
        setup, inbound_created = asyncio.run(self._setup(settings.NATS_URL))
        config = setup.config
        self.stdout.write(
            f"Stream {setup.name} {'created' if setup.created else 'up to date'}: "
            f"subjects {', '.join(config.subjects or [])}, file storage, "
            f"max age {config.max_age:.0f}s, duplicate window {config.duplicate_window:.0f}s, "
            f"replicas {config.num_replicas}."
        )
        self.stdout.write(
            f"Stream {settings.HEALIX_INBOUND_STREAM} "
            f"{'created' if inbound_created else 'up to date'}: subjects healix.*.inbound.>, "
            f"durable consumer {settings.HEALIX_INBOUND_CONSUMER}."
        )

    async def _setup(self, url: str) -> tuple[StreamSetup, bool]:
        nc = await nats.connect(url, max_reconnect_attempts=3)
        try:
            js = nc.jetstream()
            events = await ensure_events_stream(js)
            # Created here, before the demo's events are relayed, so webhooks receive them.
            await ensure_webhooks_consumer(js)
            inbound_created = await ensure_inbound_stream(js)
            await ensure_inbound_consumer(js)
            return events, inbound_created
        finally:
            await nc.close()
