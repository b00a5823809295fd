"""`manage.py consume_bus`: the durable JetStream consumers, until SIGTERM / Ctrl-C.

Inbound messages -> integrations.ingest() (bus/inbound.py), and system events -> webhook
deliveries (the healix-webhooks consumer, bus/webhook_fanout.py), side by side.
"""

import asyncio
import gc
import sys
from functools import partial

from django.core.management.base import BaseCommand

from bus.commands import run_until_signalled
from bus.inbound import consume
from bus.webhook_fanout import consume_webhooks


class Command(BaseCommand):
    help = "Consume inbound messages into ingest() and fan system events out to webhooks."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=None, help="Messages per fetch.")

    def handle(self, *args, **options) -> None:
        # What Django built at start-up lives as long as the process: frozen, the garbage
        # collector stops walking it after every few thousand allocations (docs/performance.md,
        # "Measured decisions").
        gc.freeze()
        # A small batch's thread, back from each query, waits for the GIL while a big batch's
        # thread computes, up to the switch interval each time: a shorter one serves a quiet
        # organization sooner during another's flood (docs/performance.md, "Measured decisions").
        sys.setswitchinterval(0.002)
        run_until_signalled(partial(self._run, options["batch"]))

    async def _run(self, batch: int | None, stop: asyncio.Event) -> None:
        self.stdout.write("consume_bus started")
        self.stdout.flush()
        await asyncio.gather(consume(stop, batch_size=batch), consume_webhooks(stop))
        self.stdout.write("consume_bus stopped")
