"""Threat: anyone who knows a key's prefix locks the key out.

A key's prefix is not secret: it shows in admin URLs, consumer names and inbox prefixes. If
failed attempts with it counted against the key's own per-minute budget, a hostile tenant
could spend that budget with guesses and keep the key's owner refused (429). Only verified
requests spend a key's budget; failed attempts are counted apart, per client address and
prefix, and refused with their own 429 once over HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import nats
import pytest
from django.test import Client

from tests.fixtures.bus import connect
from tests.fixtures.integrations import key_client, make_api_key

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/plans/"
# Where the hostile tenant sends from, and a bystander (documentation addresses, RFC 5737).
HOSTILE_ADDRESS = "203.0.113.66"
OTHER_ADDRESS = "198.51.100.7"


# Seconds each test needs within one throttling window (a minute): its counts would start
# again if the minute changed halfway.
WINDOW_NEEDED_SECONDS = 20


@pytest.fixture(autouse=True)
def _within_one_minute() -> None:
    """Start each test early enough in a minute that it ends in the same one."""
    now = datetime.now(UTC)
    if now.second + now.microsecond / 1e6 > 60 - WINDOW_NEEDED_SECONDS:
        time.sleep(60 - now.second - now.microsecond / 1e6 + 0.1)


def prefix_of(key: str) -> str:
    return key.partition(".")[0]


def guesser(prefix: str, address: str = HOSTILE_ADDRESS, forwarded_for: str = "") -> Client:
    """A client at `address` presenting `prefix` with a secret that is not the key's."""
    headers = {"Authorization": f"Api-Key {prefix}.notTheSecretButTheRightLength0000"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return Client(REMOTE_ADDR=address, headers=headers)


def test_given_a_hostile_tenant_guessing_with_a_keys_prefix_then_the_key_keeps_its_budget(
    world, other_world, settings
):
    # Given hrh's key with a budget of 3 requests a minute, and the other organization's
    # partner, who learned hrh's prefix, sending 5 guesses with it
    settings.HEALIX_API_RATE_PER_MINUTE = 3
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 100
    hostile = guesser(prefix_of(world.key))
    assert [hostile.get(PLANS).status_code for _ in range(5)] == [401] * 5
    # When hrh's own system calls the API
    answers = [world.client.get(PLANS).status_code for _ in range(4)]
    # Then it gets its whole budget, and only its own fourth request is throttled
    assert answers == [200, 200, 200, 429]
    # And the other organization's key is counted apart from both
    assert other_world.client.get(PLANS).status_code == 200


def test_given_too_many_failures_from_one_address_and_prefix_then_429_problem_only_for_them(
    world, other_world, settings
):
    # Given at most 2 failed attempts a minute per client address and key prefix
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 2
    prefix = prefix_of(world.key)
    # When the hostile tenant keeps guessing with hrh's prefix from its address
    answers = [guesser(prefix).get(PLANS) for _ in range(3)]
    # Then the third guess is refused as throttled: a 429 problem with Retry-After
    assert [answer.status_code for answer in answers] == [401, 401, 429]
    throttled = answers[2]
    assert throttled["Content-Type"] == "application/problem+json"
    assert throttled.json()["type"] == "https://healix.me/problems/throttled"
    assert throttled.json()["status"] == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    # But hrh's real key from that same address is served: failures never touch the key
    real = key_client(world.key)
    assert real.get(PLANS, REMOTE_ADDR=HOSTILE_ADDRESS).status_code == 200
    # A guess from another address, or with another prefix, is counted on its own
    assert guesser(prefix, OTHER_ADDRESS).get(PLANS).status_code == 401
    assert guesser(prefix_of(other_world.key)).get(PLANS).status_code == 401


def test_given_random_prefixes_from_one_address_then_they_share_that_addresss_count(
    world, settings
):
    # Given at most 2 failed attempts a minute per address and prefix
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 2
    # When one address tries made-up prefixes, a new one each time
    answers = [guesser(f"Zz{n:06d}").get(PLANS).status_code for n in range(3)]
    # Then prefixes that name no key count together: a new prefix buys no new attempts
    assert answers == [401, 401, 429]
    # and they leave one row for that address, not one per made-up prefix
    from healix.models import ApiAuthFailureWindow

    assert ApiAuthFailureWindow.objects.filter(client=HOSTILE_ADDRESS).count() == 1
    # while hrh's key is untouched
    assert world.client.get(PLANS).status_code == 200


def test_given_no_trusted_proxy_then_a_forged_forwarded_for_does_not_buy_new_attempts(
    world, settings
):
    # Given web behind no proxy, and at most 2 failed attempts a minute
    settings.HEALIX_API_TRUSTED_PROXIES = 0
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 2
    prefix = prefix_of(world.key)
    # When the hostile tenant claims another X-Forwarded-For on every guess
    answers = [
        guesser(prefix, forwarded_for=f"10.0.0.{n}").get(PLANS).status_code for n in range(3)
    ]
    # Then its guesses still count under its own address
    assert answers == [401, 401, 429]


def test_given_one_trusted_proxy_then_failures_count_per_forwarded_address(world, settings):
    # Given web behind one proxy, which appends the client's address to X-Forwarded-For
    settings.HEALIX_API_TRUSTED_PROXIES = 1
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 1
    prefix = prefix_of(world.key)

    def via_proxy(client_address: str, forged: str = "") -> int:
        forwarded = f"{forged}, {client_address}" if forged else client_address
        return guesser(prefix, "10.1.1.1", forwarded).get(PLANS).status_code

    # When two clients behind it fail, one of them forging an address in front
    assert [via_proxy(HOSTILE_ADDRESS, forged=f"10.0.0.{n}") for n in range(2)] == [401, 429]
    # Then each is counted under the address the proxy saw, not the forged one
    assert via_proxy(OTHER_ADDRESS) == 401


# --- Over the bus: the auth callout checks keys the same way ---------------------------------


async def _connect_with(url: str, token: str) -> str:
    try:
        partner = await connect(url, token)
    except nats.errors.Error as error:
        return str(error)
    await partner.nc.close()
    return "connected"


@pytest.mark.django_db(transaction=True)
def test_given_wrong_secrets_over_the_bus_then_the_keys_rest_budget_is_untouched(
    start_bus_auth, nats_server, org, other_org, settings
):
    # Given hrh's key with a budget of 3 requests a minute (the bus and REST share it)
    settings.HEALIX_API_RATE_PER_MINUTE = 3
    key = make_api_key(org)
    start_bus_auth(HEALIX_API_RATE_PER_MINUTE=3, HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE=100)
    wrong = f"{prefix_of(key)}.notTheSecretButTheRightLength0000"
    # When the hostile tenant connects 4 times with hrh's prefix and a wrong secret
    refusals = {asyncio.run(_connect_with(nats_server.client_url, wrong)) for _ in range(4)}
    assert refusals == {"nats: 'Authorization Violation'"}
    # Then hrh's REST calls get the whole budget
    client = key_client(key)
    assert [client.get(PLANS).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)
def test_given_failed_bus_connects_then_the_address_is_throttled_but_the_real_key_connects(
    start_bus_auth, nats_server, org, settings
):
    # Given at most 2 failed attempts a minute per address and prefix, on the bus and REST
    settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = 2
    key = make_api_key(org)
    start_bus_auth(HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE=2)
    wrong = f"{prefix_of(key)}.notTheSecretButTheRightLength0000"
    # When the hostile tenant fails twice over the bus from 127.0.0.1
    for _ in range(2):
        assert asyncio.run(_connect_with(nats_server.client_url, wrong)) != "connected"
    # Then its next guess from that address is throttled over REST too (one count for both)
    assert guesser(prefix_of(key), "127.0.0.1").get(PLANS).status_code == 429
    # And the real key still connects from the same address
    assert asyncio.run(_connect_with(nats_server.client_url, key)) == "connected"


@pytest.mark.parametrize(
    "key",
    ["Ab\x00cdefg.secret", "AbCdEfGh.sec\x00ret", "\x00", "x" * 300, "AbCd EfGh.secret"],
    ids=["NUL in the prefix", "NUL in the secret", "NUL alone", "overlong", "blank inside"],
)
def test_given_a_malformed_key_then_it_is_a_401_never_a_500(world, other_world, key):
    # Given two organizations' keys, When a client presents something no key can look like
    answer = Client(REMOTE_ADDR=HOSTILE_ADDRESS, headers={"Authorization": f"Api-Key {key}"}).get(
        PLANS
    )
    # Then it is refused as an unknown key, and neither organization's key is touched
    assert answer.status_code == 401, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    assert world.client.get(PLANS).status_code == 200
    assert other_world.client.get(PLANS).status_code == 200


def test_given_failures_from_ever_new_addresses_then_old_windows_are_cleared_away(
    world, other_world
):
    # Given 150 counts left from addresses that failed minutes ago
    from healix.api.throttling import FAILURE_PURGE_BATCH
    from healix.models import ApiAuthFailureWindow

    long_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    ApiAuthFailureWindow.objects.bulk_create(
        ApiAuthFailureWindow(
            client=f"10.9.{n // 250}.{n % 250}", prefix="", window_start=long_ago, attempts=3
        )
        for n in range(150)
    )
    # When guesses come from two new addresses, each opening a row of its own
    for address in (HOSTILE_ADDRESS, OTHER_ADDRESS):
        assert guesser(prefix_of(world.key), address).get(PLANS).status_code == 401
    # Then each cleared up to FAILURE_PURGE_BATCH old rows: only this minute's are left
    assert FAILURE_PURGE_BATCH * 2 >= 150
    assert set(ApiAuthFailureWindow.objects.values_list("client", flat=True)) == {
        HOSTILE_ADDRESS,
        OTHER_ADDRESS,
    }
    assert other_world.client.get(PLANS).status_code == 200
