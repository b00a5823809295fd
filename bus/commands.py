"""What the long-running commands share (consume_bus, bus_auth, relay_events): run one
coroutine until SIGTERM or Ctrl-C asks it to stop."""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["run_until_signalled"]

Result = TypeVar("Result")


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[Result]]) -> Result:
    """Run `main(stop)` in a new event loop; SIGTERM or SIGINT sets `stop`, and `main` is
    expected to finish its work in hand and return."""

    async def run() -> Result:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await main(stop)

    return asyncio.run(run())
