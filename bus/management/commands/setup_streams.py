"""`manage.py setup_streams`: create or update the JetStream stream HEALIX_EVENTS with its
durable consumer healix-webhooks, and every organization's inbound stream with its durable
consumer healix-inbound (bus/topology.py)."""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from bus import client as bus_client
from bus.topology import (
    StreamSetup,
    ensure_events_stream,
    ensure_inbound,
    ensure_webhooks_consumer,
    inbound_stream_name,
    retire_shared_stream,
)
from healix.models import Organization


class Command(BaseCommand):
    help = "Create or update the JetStream streams of outgoing and inbound events (idempotent)."

    def handle(self, *args, **options) -> None:
        org_ids = list(Organization.objects.values_list("slug", flat=True))
        setup, created, shared = asyncio.run(self._setup(settings.NATS_URL, org_ids))
        config = setup.config
        self.stdout.write(
            f"Stream {setup.name} {'created' if setup.created else 'up to date'}: "
            f"subjects {', '.join(config.subjects or [])}, file storage, "
            f"max age {config.max_age:.0f}s, duplicate window {config.duplicate_window:.0f}s, "
            f"replicas {config.num_replicas}."
        )
        if shared:
            self.stdout.write(
                f"Stream {settings.HEALIX_INBOUND_STREAM} retired: it takes no new messages; "
                "consume_bus ingests what it holds, then deletes it."
            )
        for org_id in org_ids:
            self.stdout.write(
                f"Stream {inbound_stream_name(org_id)} "
                f"{'created' if org_id in created else 'up to date'}: subjects "
                f"healix.{org_id}.inbound.>, durable consumer {settings.HEALIX_INBOUND_CONSUMER}."
            )

    async def _setup(self, url: str, org_ids: list[str]) -> tuple[StreamSetup, set[str], bool]:
        nc = await bus_client.connect(url, max_reconnect_attempts=3)
        try:
            js = nc.jetstream()
            events = await ensure_events_stream(js)
            # Created here, before the demo's events are relayed, so webhooks receive them.
            await ensure_webhooks_consumer(js)
            shared = await retire_shared_stream(js)
            created = {org_id for org_id in org_ids if await ensure_inbound(js, org_id)}
            return events, created, shared
        finally:
            await nc.close()
