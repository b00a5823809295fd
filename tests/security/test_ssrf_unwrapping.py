"""SSRF through IPv6 addresses that wrap an IPv4 one (issue 15, item 7).

A hostile tenant registers a webhook at `http://[2002:7f00:1::1]/` (6to4 of 127.0.0.1), a NAT64
address (64:ff9b::/96 of 127.0.0.1, or the local-use 64:ff9b:1::/48), or a Teredo address whose
server or (obfuscated) client is internal, or a name that resolves to one of them. A relay or
gateway would carry the request to the IPv4 address inside, so the guard judges that address.
"""

import ipaddress
import json
import os
import subprocess
import sys

import pytest

from integrations.models import HttpIntegration
from integrations.webhooks.ssrf import refusal_reason
from tests.fixtures.webhooks import BASE_DIR, LOOPBACK

pytestmark = pytest.mark.django_db

SIX_TO_FOUR_LOOPBACK = "2002:7f00:1::1"  # the address: 6to4 of 127.0.0.1
NAT64_LOOPBACK = "64:ff9b::7f00:1"
LOCAL_NAT64_LOOPBACK = "64:ff9b:1:7f00:0:100::"  # RFC 6052 /48 layout of 127.0.0.1
TEREDO_CLIENT_LOOPBACK = "2001:0:4136:e378:8000:63bf:80ff:fffe"  # client ~0x80fffffe
TEREDO_SERVER_LOOPBACK = "2001:0:7f00:1:8000:63bf:f7f7:f7f7"  # server 127.0.0.1

# address -> the reason the guard names.
WRAPPED = {
    SIX_TO_FOUR_LOOPBACK: "6to4-wrapped loopback",
    "2002:a9fe:a9fe::1": "6to4-wrapped link-local",  # the cloud metadata address
    "2002:a00:1::": "6to4-wrapped private",
    NAT64_LOOPBACK: "NAT64-wrapped loopback",
    "64:ff9b::a9fe:a9fe": "NAT64-wrapped link-local",
    "64:ff9b::c0a8:101": "NAT64-wrapped private",
    LOCAL_NAT64_LOOPBACK: "local-use NAT64",
    TEREDO_CLIENT_LOOPBACK: "Teredo-wrapped loopback",
    TEREDO_SERVER_LOOPBACK: "Teredo-wrapped loopback",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped: the same address, as before
}


@pytest.mark.parametrize(("address", "reason"), WRAPPED.items())
def test_an_address_wrapping_an_internal_ipv4_is_refused_naming_it(address, reason):
    # Given an IPv6 address that carries an internal IPv4 address, and no allow-list
    # When the guard judges it
    # Then it is refused as what it wraps
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1"])
def test_a_wrapped_public_ipv4_passes_like_a_mapped_one(address):
    # Given NAT64 (a DNS64 network) or 6to4 of 8.8.8.8: When judged: Then it passes
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_teredo_is_refused_even_when_both_ends_are_public():
    # Given a Teredo address of public server and client: a deprecated tunnel no partner needs
    address = ipaddress.ip_address("2001:0:808:808:8000:63bf:f7f7:f7f7")
    assert refusal_reason(address) == "Teredo"


def test_wrapped_loopback_is_judged_as_127_0_0_1_against_the_allow_list():
    # Given the production setting (no allow-list) the 6to4 loopback is refused; given the
    # development allow-list it is judged as 127.0.0.1, exactly like ::ffff:127.0.0.1
    allowed = tuple(ipaddress.ip_network(network) for network in LOOPBACK)
    wrapped = ipaddress.ip_address(SIX_TO_FOUR_LOOPBACK)
    assert refusal_reason(wrapped) == "6to4-wrapped loopback"
    assert refusal_reason(wrapped, allowed) is None


@pytest.mark.parametrize("address", list(WRAPPED)[:-1])
def test_a_hostile_tenant_cannot_register_a_wrapped_address(world, other_world, settings, address):
    # Given production settings: no allow-list, plain http allowed only for the loopback test
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = []
    settings.HEALIX_WEBHOOK_ALLOW_HTTP = True
    before = world.fingerprint()
    # When the other organization registers a webhook at the wrapped address
    response = other_world.client.post(
        "/api/v1/webhooks/",
        json.dumps({"partnerName": "Evil", "url": f"http://[{address}]:8000/"}),
        content_type="application/json",
    )
    # Then it is a 400 problem at #/url naming why, and nothing is stored anywhere
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problems = {error["pointer"]: error["detail"] for error in response.json()["errors"]}
    assert WRAPPED[address] in problems["#/url"]
    assert not HttpIntegration.objects.filter(partner_name="Evil").exists()
    assert world.fingerprint() == before


def run_probe(hosts: dict[str, str], urls: list[str]) -> dict:
    plan = json.dumps({"hosts": hosts, "urls": urls})
    result = subprocess.run(
        ["unshare", "-rnm", sys.executable, "-m", "tests.security.ssrf_namespace_probe", plan],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DEBUG": "true",
            "HEALIX_WEBHOOK_ALLOWED_NETWORKS": "",
            "HEALIX_WEBHOOK_ALLOW_HTTP": "true",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_wrapped_loopback_never_reaches_a_real_receiver_by_address_or_by_name():
    # Given a network where each wrapped address really leads to a listening HTTP receiver,
    # and names that resolve to them (a private /etc/hosts: real resolution, no mock)
    hosts = {
        "six-to-four.partner.example": SIX_TO_FOUR_LOOPBACK,
        "nat64.partner.example": NAT64_LOOPBACK,
        "local-nat64.partner.example": LOCAL_NAT64_LOOPBACK,
        "teredo.partner.example": TEREDO_CLIENT_LOOPBACK,
    }
    urls = [f"http://[{address}]:{{port}}/hook" for address in hosts.values()]
    urls += [f"http://{name}:{{port}}/hook" for name in hosts]
    # When the webhook transport POSTs to each, by address and by name
    results = run_probe(hosts, urls)
    for url, outcome in results.items():
        # Then the receiver was reachable (the control request arrived) ...
        assert outcome["control_received"] == 1, (url, outcome)
        # ... yet the guarded request was refused before connecting, and never arrived
        assert outcome["refused"] and "refused" in outcome["error"], (url, outcome)
        assert outcome["guarded_received"] == 0, (url, outcome)
