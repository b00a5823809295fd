"""A JetStream cluster of nats-servers on loopback, for the tests that prove Healix on more than
one bus node (issue 19): each node configured as production's (bus/nats_config.py, the same
accounts and auth callout) plus the cluster section docs/deploy.md documents.

`kill(n)` is a SIGKILL of one node (no flush, no goodbye to its routes); `start_node(n)` brings
it back on the same ports and data, and it catches up from the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import nats.errors
from nats.js.api import StreamConfig
from nats.js.errors import APIError

from bus import client as bus_client
from bus.nats_config import bus_secrets, cluster_config
from dev.servers import NatsServer, free_port

__all__ = ["NatsCluster"]

# Seconds a new cluster may take to elect its JetStream meta leader and accept a replicated
# stream: a few seconds on a quiet machine.
CLUSTER_READY_TIMEOUT = 60.0
# A stream made and deleted to prove the cluster takes replicated streams.
READY_CHECK_STREAM = "HEALIX_CLUSTER_READY_CHECK"


class NatsCluster:
    """`size` nats-servers in one cluster; `.url` and `.environment()` name them all, as
    NATS_URL does in production (comma-separated)."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        self.folder = folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        secrets = bus_secrets(self.folder)
        routes = [("127.0.0.1", free_port()) for _ in range(size)]
        self.nodes = [
            NatsServer(
                self.folder / f"node-{n}",
                free_port(),
                secrets_dir=self.folder,
                cluster=cluster_config(self.server_name(n), port, routes, secrets.route_password),
            )
            for n, (_host, port) in enumerate(routes)
        ]

    @staticmethod
    def server_name(n: int) -> str:
        return f"healix-{n}"

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def environment(self) -> dict[str, str]:
        """NatsServer.environment() with every URL naming all the nodes."""
        each = [node.environment() for node in self.nodes]
        return {
            name: ",".join(node[name] for node in each) if name.endswith("_URL") else value
            for name, value in each[0].items()
        }

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            asyncio.run(self._wait_until_replicated_streams_work())
        except BaseException:
            self.stop()
            raise

    async def _wait_until_replicated_streams_work(self) -> None:
        deadline = time.monotonic() + CLUSTER_READY_TIMEOUT
        nc = await bus_client.connect(self.url, max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            while True:
                try:
                    await js.add_stream(
                        StreamConfig(
                            name=READY_CHECK_STREAM,
                            subjects=[READY_CHECK_STREAM.lower()],
                            num_replicas=len(self.nodes),
                        )
                    )
                    await js.delete_stream(READY_CHECK_STREAM)
                    return
                except (APIError, nats.errors.Error, TimeoutError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.25)
        finally:
            await nc.close()

    def node_named(self, server_name: str) -> int:
        return next(n for n in range(len(self.nodes)) if self.server_name(n) == server_name)

    def kill(self, n: int) -> None:
        """SIGKILL node `n`."""
        node = self.nodes[n]
        if node.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.process.pid, signal.SIGKILL)
            node.process.wait()
            node.process = None

    def start_node(self, n: int) -> None:
        self.nodes[n].start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
