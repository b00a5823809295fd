"""The SSRF guard: refused ranges at save time and again at send time, the allow-list, and the
checked address pinned for the connection (no second DNS answer can redirect it)."""

import ipaddress

import pytest
from django.core.exceptions import ValidationError

from integrations.models import AttemptOutcome, DeliveryStatus, HttpIntegration
from integrations.webhooks import delivery, ssrf
from integrations.webhooks.services import send_test_event
from integrations.webhooks.ssrf import UnsafeURL, check_url, refusal_reason
from tests.fixtures.webhooks import LOOPBACK, make_integration

# One address of every refused range, IPv4 and IPv6, with the category the refusal names.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("100.64.0.1", "not public"),
    ("192.0.2.10", "private"),
]


def url_for(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/hook"


@pytest.mark.parametrize(("address", "category"), REFUSED)
def test_each_refused_range_is_named(address, category):
    assert refusal_reason(ipaddress.ip_address(address)) == category


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "category"), REFUSED)
def test_save_time_refuses_urls_resolving_to_each_range(org, settings, address, category):
    # Given the production setting: no network allowed
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = []
    # When an integration is saved with a URL that resolves to the address
    with pytest.raises(ValidationError) as refused:
        make_integration(org, url_for(address))
    # Then it is refused, naming why, and nothing is stored
    assert category in str(refused.value.message_dict["url"])
    assert not HttpIntegration.objects.exists()


def test_a_name_resolving_to_loopback_is_refused_without_the_allow_list(org, settings):
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("https://localhost:8080/hook")


def test_the_allow_list_admits_loopback(settings):
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    assert check_url("https://127.0.0.1:9/hook").addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeURL, match="private"):
        check_url("https://10.0.0.1/hook")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("https://user:pw@example.com/", "credentials"),
        ("https:///nohost", "no host"),
        ("https://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_malformed_or_unresolvable_urls_are_refused(url, problem, settings):
    with pytest.raises(UnsafeURL, match=problem):
        check_url(url)


def test_http_needs_debug_or_the_setting(settings):
    settings.DEBUG = False
    settings.HEALIX_WEBHOOK_ALLOW_HTTP = False
    settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    with pytest.raises(UnsafeURL, match="https"):
        check_url("http://127.0.0.1:9/hook")
    settings.HEALIX_WEBHOOK_ALLOW_HTTP = True
    check_url("http://127.0.0.1:9/hook")


@pytest.mark.django_db(transaction=True)
def test_send_time_refuses_again(org, webhook_settings, receiver, monkeypatch):
    # Given an integration saved while loopback was allowed
    integration, _secret = make_integration(org, receiver.url())
    # When the allow-list is gone by the time it sends (tasks run in this process here)
    webhook_settings.HEALIX_WEBHOOK_ALLOWED_NETWORKS = []
    monkeypatch.setattr(delivery, "queue_deliveries", lambda *a, **k: None)
    sent = send_test_event(integration)
    delivery.deliver([str(sent.pk)])
    # Then the attempt is refused and recorded, never retried, and nothing was received
    sent.refresh_from_db()
    attempt = sent.attempts.get()
    assert (sent.status, attempt.outcome) == (DeliveryStatus.FAILED, AttemptOutcome.FAILED)
    assert "loopback" in attempt.error
    assert receiver.received == []


@pytest.mark.django_db(transaction=True)
def test_dns_rebinding_is_caught_at_send_time(org, webhook_settings, receiver, monkeypatch):
    # Given a name that resolved to a public address when the integration was saved
    answers = {"partner.example": ["93.184.216.34"]}
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: answers[host])  # DNS is external
    integration, _secret = make_integration(org, f"https://partner.example:{receiver.port}/h")
    # When the name answers a private address at send time
    answers["partner.example"] = ["10.0.0.7"]
    monkeypatch.setattr(delivery, "queue_deliveries", lambda *a, **k: None)
    sent = send_test_event(integration)
    delivery.deliver([str(sent.pk)])
    # Then the request is refused
    attempt = sent.attempts.get()
    assert attempt.outcome == AttemptOutcome.FAILED
    assert "10.0.0.7, a private address" in attempt.error


@pytest.mark.django_db(transaction=True)
def test_the_connection_goes_to_the_checked_address(org, webhook_settings, receiver, monkeypatch):
    # Given a name that exists nowhere but in the guard's one resolution (-> loopback, allowed)
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    integration, _secret = make_integration(org, f"http://partner.example:{receiver.port}/h")
    monkeypatch.setattr(delivery, "queue_deliveries", lambda *a, **k: None)
    lookups.clear()
    # When it is delivered
    sent = send_test_event(integration)
    delivery.deliver([str(sent.pk)])
    # Then the request reached the checked address, under its own Host name, after exactly
    # one resolution: the transport did not resolve the name again
    assert sent.attempts.get().outcome == AttemptOutcome.SUCCEEDED
    assert receiver.received[0].headers["host"] == f"partner.example:{receiver.port}"
    assert lookups == ["partner.example"]
