"""Sending one webhook request: requests with a Session per thread (connections are reused),
redirects never followed, the SSRF guard checked on every request and its checked address
pinned for the connection.

`post()` never raises: every outcome, a refusal or a timeout included, comes back as a
`Response` data class for the retry policy (integrations/webhooks/delivery.py) to judge.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter

from integrations.webhooks.ssrf import UnsafeURL, check_url

__all__ = ["KEEP_BODY_BYTES", "GuardedAdapter", "Response", "parse_retry_after", "post", "session"]

# What an attempt keeps of the response body (the 4 KiB).
KEEP_BODY_BYTES = 4096
# What we read at most to leave the connection reusable; a longer body closes it instead.
DRAIN_BYTES = 64 * 1024
# Connections kept per destination and thread: a worker thread sends one request at a time.
POOL_SIZE = 4


@dataclass(frozen=True)
class Response:
    """What one attempt got: a status with headers and the start of the body, or an error."""

    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str = ""
    refused: bool = False  # the SSRF guard refused the URL: retrying would not help
    retry_after: float | None = None


class GuardedAdapter(HTTPAdapter):
    """Checks every request's URL with the SSRF guard and connects to the address it checked:
    urllib3 is given that IP as the pool's host, with the name kept for the Host header, TLS
    SNI and certificate verification."""

    def send(self, request, **kwargs):
        destination = check_url(request.url)  # raises UnsafeURL
        request.healix_address = destination.addresses[0]
        default_port = 443 if destination.scheme == "https" else 80
        host = destination.host if ":" not in destination.host else f"[{destination.host}]"
        request.headers["Host"] = (
            host if destination.port == default_port else f"{host}:{destination.port}"
        )
        request.healix_hostname = destination.host
        return super().send(request, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        address = getattr(request, "healix_address", None)
        if address is None:  # only send() above reaches here, with an address
            raise UnsafeURL("The request did not pass the SSRF guard.")
        host_params["host"] = address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = request.healix_hostname
            pool_kwargs["assert_hostname"] = request.healix_hostname
        return host_params, pool_kwargs


_local = threading.local()


def session() -> requests.Session:
    """This thread's Session (a Session is not meant to be shared between threads)."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False  # an environment proxy would connect past the guard
        adapter = GuardedAdapter(pool_connections=16, pool_maxsize=POOL_SIZE, max_retries=0)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or timezone.now())).total_seconds())


def _read_body(response: requests.Response, deadline: float) -> str:
    """The first KEEP_BODY_BYTES of the body, read against the total deadline; the rest is
    drained (up to DRAIN_BYTES) so the connection can be reused, or the connection closed."""
    kept = bytearray()
    read = 0
    for chunk in response.iter_content(8192):
        if len(kept) < KEEP_BODY_BYTES:
            kept += chunk[: KEEP_BODY_BYTES - len(kept)]
        read += len(chunk)
        if time.monotonic() > deadline:
            response.close()
            raise requests.Timeout("The response took longer than the total timeout.")
        if read > DRAIN_BYTES:
            response.close()  # not worth reading on: drop this connection instead
            break
    return kept.decode("utf-8", "replace")


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body` to `url`; never raises."""
    started_at = timezone.now()
    start = time.monotonic()
    total = settings.HEALIX_WEBHOOK_TOTAL_TIMEOUT_SECONDS
    connect = min(settings.HEALIX_WEBHOOK_CONNECT_TIMEOUT_SECONDS, total)
    deadline = start + total

    def elapsed() -> int:
        return int((time.monotonic() - start) * 1000)

    try:
        response = session().post(
            url,
            data=body,
            headers=headers,
            timeout=(connect, total),
            allow_redirects=False,
            stream=True,
        )
        with response:
            text = _read_body(response, deadline)
    except UnsafeURL as error:
        return Response(started_at, elapsed(), error=str(error), refused=True)
    except requests.Timeout as error:
        return Response(started_at, elapsed(), error=f"Timeout: {error}")
    except requests.RequestException as error:
        return Response(started_at, elapsed(), error=f"{type(error).__name__}: {error}")
    response_headers = dict(response.headers)
    retry_after = None
    if response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return Response(
        started_at,
        elapsed(),
        status_code=response.status_code,
        headers=response_headers,
        body=text,
        retry_after=retry_after,
    )
