"""`manage.py bus_auth`: the NATS auth callout (bus/callout.py), until SIGTERM / Ctrl-C."""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from bus.callout import serve
from bus.commands import run_until_signalled


class Command(BaseCommand):
    help = "Answer nats-server's auth callout: partners connect with their API key as token."

    def handle(self, *args, **options) -> None:
        run_until_signalled(self._run)

    async def _run(self, stop: asyncio.Event) -> None:
        if not (settings.HEALIX_BUS_AUTH_NATS_URL and settings.HEALIX_BUS_AUTH_ISSUER_SEED):
            # Not an error under `make run` with a NATS_URL of one's own: exiting would make
            # honcho stop every other process.
            self.stderr.write(
                "bus_auth idle: HEALIX_BUS_AUTH_NATS_URL and HEALIX_BUS_AUTH_ISSUER_SEED are not "
                "set, so partners cannot connect to the bus with an API key."
            )
            await stop.wait()
            return
        ready = asyncio.Event()
        served = asyncio.create_task(serve(stop, ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait([served, waiting], return_when=asyncio.FIRST_COMPLETED)
        if served.done():
            served.result()  # it failed before it was ready: raise its error
        self.stdout.write("bus_auth started")
        self.stdout.flush()
        await served
        self.stdout.write("bus_auth stopped")
