"""The SSRF guard of webhooks: a URL may only lead to a public address.

`check_url()` parses the URL, resolves its host and refuses it when any address it resolves to
is loopback, private, link-local, multicast, reserved, unspecified or otherwise not global
(IPv4 and IPv6), unless the address lies in HEALIX_WEBHOOK_ALLOWED_NETWORKS. An IPv6 address
that carries an IPv4 one (IPv4-mapped, 6to4, NAT64 64:ff9b::/96, Teredo) is judged by the IPv4
address inside: a relay or gateway would deliver the request there.

It returns the checked addresses: the transport (integrations/webhooks/delivery.py) connects to one
of
those, never resolving again, so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect it.

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
    "wrapped_ipv4",
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
# RFC 6052's well-known NAT64 prefix: the IPv4 address is the last 32 bits.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: where the IPv4 address sits depends on the prefix length
# the network chose (RFC 6052), so no single reading is right; refused as a whole.
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_MAPPED = "IPv4-mapped"
TEREDO = "Teredo"


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


def wrapped_ipv4(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]]:
    """How `address` carries IPv4 addresses, and which; ("", []) when it carries none."""
    if address.ipv4_mapped is not None:
        return IPV4_MAPPED, [address.ipv4_mapped]
    if address.sixtofour is not None:
        return "6to4", [address.sixtofour]
    if address in NAT64:
        return "NAT64", [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.teredo is not None:
        return TEREDO, list(address.teredo)  # server, and the client un-obfuscated
    return "", []


def refusal_reason(address: IPAddress, allowed: tuple[IPNetwork, ...] = ()) -> str | None:
    """Why `address` may not be reached ("loopback", "6to4-wrapped private", ...), or None
    if it may."""
    if any(address.version == network.version and address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return "local-use NAT64"
        how, inner = wrapped_ipv4(address)
        if how:
            reason = next(filter(None, (refusal_reason(ip, allowed) for ip in inner)), None)
            if reason is not None:  # a mapped address is the IPv4 one, said as such
                return reason if how == IPV4_MAPPED else f"{how}-wrapped {reason}"
            # Teredo is a deprecated tunnel that IANA does not list as globally reachable,
            # and no partner endpoint needs it: refused even between public addresses.
            return TEREDO if how == TEREDO else None
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
