"""The nats-server configuration the platform runs with: the accounts, exports and imports,
the auth callout and the partners' limits, as production's (docs/bus-access.md), and the
secrets it needs. dev/servers.py writes it for `make run`, the tests and the benchmarks.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import nkeys

from bus.limits import bus_limits

__all__ = [
    "BUS_ACCOUNT",
    "BUS_AUTH_ACCOUNT",
    "BUS_AUTH_USER",
    "BUS_SECRETS_FILE",
    "CLUSTER_CONFIG",
    "EVENTS_STREAM",
    "JS_API_PREFIX",
    "NATS_CONFIG",
    "PARTNER_INBOXES",
    "SERVICE_ACCOUNT",
    "SERVICE_USER",
    "SYSTEM_ACCOUNT",
    "SYSTEM_USER",
    "BusSecrets",
    "bus_secrets",
    "cluster_config",
    "partner_limits",
]

# The embedded nats-server is configured as production's (docs/bus-access.md): the platform's
# own processes connect as SERVICE_USER (its password in NATS_URL), the auth callout service
# as BUS_AUTH_USER, and everyone else (partners, with an API key as the token) goes through
# the callout, which places them in BUS_ACCOUNT with their organization's permissions.
SERVICE_ACCOUNT = "HEALIX"
SERVICE_USER = "healix"
BUS_ACCOUNT = "PARTNERS"
EVENTS_STREAM = "HEALIX_EVENTS"
# Healix's answers to partners (Healix-Reply-To, docs/inbound.md) go to their inboxes,
# _INBOX.<org>.<key prefix>.<id>: four tokens or more, where the platform's own are two or three.
PARTNER_INBOXES = "_INBOX.*.*.>"
# Where partners reach the JetStream API of the streams' account (nats-py: jetstream(prefix=)).
JS_API_PREFIX = "JS.HEALIX.API"
BUS_AUTH_ACCOUNT = "AUTH"
BUS_AUTH_USER = "bus_auth"
# bus_auth's view of the connections, to close those of revoked keys.
SYSTEM_ACCOUNT = "SYS"
SYSTEM_USER = "bus_auth_system"
BUS_SECRETS_FILE = "bus-secrets.json"

NATS_CONFIG = """# Written by dev/servers.py on every start (bus/nats_config.py); see
# docs/bus-access.md.
listen: "127.0.0.1:{port}"
jetstream {{ store_dir: "{store_dir}" }}
{cluster}accounts {{
  {service_account} {{
    jetstream: enabled
    users: [ {{ user: "{service_user}", password: "{service_password}" }} ]
    exports: [
      {{ service: "healix.*.inbound.>" }}
      {{ stream: "healix.*.*" }}
      {{ service: "$JS.API.CONSUMER.INFO.{events_stream}.*" }}
      {{ service: "$JS.API.CONSUMER.MSG.NEXT.{events_stream}.*", response_type: stream }}
      {{ service: "$JS.ACK.{events_stream}.>" }}
      {{ stream: "{partner_inboxes}" }}
    ]
  }}
  {bus_account} {{
    # Per connection (docs/bus-access.md, "Limits"): nats-server closes a connection past them.
    limits: {{ max_subscriptions: {max_subscriptions}, max_payload: {max_payload} }}
    imports: [
      {{ service: {{ account: {service_account}, subject: "healix.*.inbound.>" }} }}
      {{ stream: {{ account: {service_account}, subject: "healix.*.*" }} }}
      {{
        service: {{
          account: {service_account}, subject: "$JS.API.CONSUMER.INFO.{events_stream}.*"
        }}
        to: "{js_prefix}.CONSUMER.INFO.{events_stream}.*"
      }}
      {{
        service: {{
          account: {service_account}, subject: "$JS.API.CONSUMER.MSG.NEXT.{events_stream}.*"
        }}
        to: "{js_prefix}.CONSUMER.MSG.NEXT.{events_stream}.*"
      }}
      {{ service: {{ account: {service_account}, subject: "$JS.ACK.{events_stream}.>" }} }}
      {{ stream: {{ account: {service_account}, subject: "{partner_inboxes}" }} }}
    ]
  }}
  {bus_auth_account} {{
    users: [ {{ user: "{bus_auth_user}", password: "{bus_auth_password}" }} ]
  }}
  {system_account} {{
    users: [ {{ user: "{system_user}", password: "{system_password}" }} ]
  }}
}}
system_account: {system_account}
authorization {{
  auth_callout {{
    issuer: "{issuer}"
    account: {bus_auth_account}
    auth_users: [ "{bus_auth_user}", "{service_user}", "{system_user}" ]
  }}
}}
"""


# A node of a JetStream cluster (docs/deploy.md, "The NATS cluster"): every node has the same
# accounts and callout as above, a name of its own, and routes to the others. Routes
# authenticate, so only the cluster's own nodes join it; in production they also use TLS.
CLUSTER_CONFIG = """server_name: "{server_name}"
cluster {{
  name: "{cluster_name}"
  listen: "{route_host}:{route_port}"
  authorization {{ user: "{route_user}", password: "{route_password}" }}
  routes: [
{routes}
  ]
}}
"""
CLUSTER_NAME = "healix"
ROUTE_USER = "route"


def cluster_config(
    server_name: str,
    route_port: int,
    peers: list[tuple[str, int]],
    route_password: str,
    route_host: str = "127.0.0.1",
) -> str:
    """The cluster section of one node's configuration, listening for routes on
    `route_host`:`route_port`; `peers` are every node's route (host, port), its own included
    (nats-server ignores a route to itself)."""
    routes = "\n".join(
        f'    "nats-route://{ROUTE_USER}:{route_password}@{host}:{port}"' for host, port in peers
    )
    return CLUSTER_CONFIG.format(
        server_name=server_name,
        cluster_name=CLUSTER_NAME,
        route_host=route_host,
        route_port=route_port,
        route_user=ROUTE_USER,
        route_password=route_password,
        routes=routes,
    )


def partner_limits() -> dict[str, int]:
    """The partners' account limits, from the same variables (and defaults) as the settings
    that bus_auth reads, so that the server enforces what bus_auth tells partners."""
    limits = bus_limits()
    return {"max_subscriptions": limits.subscriptions, "max_payload": limits.payload_bytes}


@dataclass(frozen=True)
class BusSecrets:
    """The embedded nats-server's passwords and the callout's issuer nkey seed."""

    service_password: str
    bus_auth_password: str
    system_password: str
    route_password: str
    issuer_seed: str

    @property
    def issuer_public_key(self) -> str:
        return nkeys.from_seed(self.issuer_seed.encode()).public_key.decode()


def bus_secrets(folder: Path) -> BusSecrets:
    """The secrets kept in `folder` (mode 0600), made on first use: `make run` keeps them in
    var/ from one run to the next, tests in their scratch folders."""
    path = folder / BUS_SECRETS_FILE
    kept = json.loads(path.read_text()) if path.exists() else {}
    made = {
        "service_password": secrets.token_urlsafe(24),
        "bus_auth_password": secrets.token_urlsafe(24),
        "system_password": secrets.token_urlsafe(24),
        "route_password": secrets.token_urlsafe(24),
        "issuer_seed": nkeys.encode_seed(
            secrets.token_bytes(32), nkeys.PREFIX_BYTE_ACCOUNT
        ).decode(),
    }
    if made.keys() - kept.keys():  # first use, or secrets added since
        kept = {**made, **kept}
        folder.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        # O_EXCL + mode: never readable by others, not even for an instant.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(kept, file)
    return BusSecrets(**{name: kept[name] for name in made})
