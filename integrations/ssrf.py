"""The SSRF guard of webhooks: a URL may only lead to a public address.

`check_url()` parses the URL, resolves its host and refuses it when any address it resolves to
is loopback, private, link-local, multicast, reserved, unspecified or otherwise not global
(IPv4 and IPv6, IPv4-mapped IPv6 included), unless the address lies in
HEALIX_WEBHOOK_ALLOWED_NETWORKS. It returns the checked addresses: the transport
(integrations/delivery.py) connects to one of those, never resolving again, so a DNS answer
that changes between the check and the connection (DNS rebinding) cannot redirect it.

The integration's clean() runs it at save time; every delivery runs it again at send time.
"""

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

__all__ = [
    "Destination",
    "UnsafeURL",
    "allowed_networks",
    "check_url",
    "refusal_reason",
    "resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
# The categories a refusal names, most specific first (a loopback address is also "private").
CATEGORIES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


class UnsafeURL(ValueError):
    """The URL may not be used for a webhook; the message says why."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


@lru_cache(maxsize=16)
def _parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def allowed_networks() -> tuple[IPNetwork, ...]:
    """HEALIX_WEBHOOK_ALLOWED_NETWORKS, parsed."""
    return _parse_networks(tuple(settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS))


def refusal_reason(address: IPAddress, allowed: tuple[IPNetwork, ...] = ()) -> str | None:
    """Why `address` may not be reached ("loopback", "private", ...), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address.version == network.version and address in network for network in allowed):
        return None
    for attribute, category in CATEGORIES:
        if getattr(address, attribute):
            return category
    if not address.is_global:
        return "not public"  # shared (100.64/10), documentation, benchmarking ranges ...
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str) -> Destination:
    """Parse, resolve and check `url`; raise UnsafeURL naming the problem."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"Not a valid URL: {error}.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    if scheme == "http" and not (settings.DEBUG or settings.HEALIX_WEBHOOK_ALLOW_HTTP):
        raise UnsafeURL("Use https:// (plain http is allowed only in development).")
    if parts.username or parts.password:
        raise UnsafeURL("Put credentials in a custom header, not in the URL.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL names no host.")
    port = port or DEFAULT_PORTS[scheme]
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise UnsafeURL(f"{host} does not resolve ({error}).") from None
    if not addresses:
        raise UnsafeURL(f"{host} does not resolve.")
    allowed = allowed_networks()
    for text in addresses:
        reason = refusal_reason(ipaddress.ip_address(text.split("%")[0]), allowed)
        if reason is not None:
            raise UnsafeURL(f"{host} resolves to {text}, a {reason} address: refused.")
    return Destination(scheme, host, port, tuple(addresses))
