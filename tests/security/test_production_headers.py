"""Production headers against a hostile party: the web process as production runs it (gunicorn,
DEBUG off, behind a TLS proxy) answers every page type with a Content-Security-Policy that
forbids inline script and framing, HSTS, and secure-only cookies; plain HTTP is redirected.

The hostile tenant is the `other` organization: it names its HTTP integration with markup,
which the platform operator's admin shows. Escaping stops it today; the policy is what stops
it the day a template forgets to escape (in chromium: in_browser/test_script_injection.py).
"""

import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.utils.html import escape

from dev import servers as devservers
from integrations.models import HttpIntegration
from tests.fixtures.api import World
from tests.fixtures.integrations import subprocess_database_url
from tests.fixtures.processes import BASE_DIR, start_command, stop_process
from tests.fixtures.waiting import PATIENCE, wait_until

HOST = "healix.example.org"
# What the hostile tenant calls its HTTP integration: a script and an inline event handler.
HOSTILE_NAME = "<script>window.hostile=1</script><img src=x onerror=window.hostile=2>"
ONE_YEAR = 365 * 24 * 3600


@dataclass
class ProductionWeb:
    port: int

    def get(self, path: str, *, tls: bool = True, **headers: str) -> requests.Response:
        """GET through the TLS proxy (it sets X-Forwarded-Proto), or plain HTTP without it."""
        headers = {"Host": HOST, **headers}
        if tls:
            headers["X-Forwarded-Proto"] = "https"
        url = f"http://127.0.0.1:{self.port}{path}"
        return requests.get(url, headers=headers, allow_redirects=False, timeout=PATIENCE)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def production_web(transactional_db, tmp_path) -> Iterator[ProductionWeb]:
    """gunicorn with DEBUG off and every variable production requires, on the test database.
    The secret key is the tests' own, so a session the test makes is valid there."""
    port = devservers.free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "HEALIX_ENCRYPTION_KEYS": os.environ["HEALIX_ENCRYPTION_KEYS"],  # the session's
        "DATABASE_URL": subprocess_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "NATS_URL": "nats://127.0.0.1:4222",  # never reached by these pages
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "celery"),
        "ALLOWED_HOSTS": HOST,
        "HEALIX_VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "healix.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--no-control-socket", "--chdir", str(BASE_DIR)]
    process = start_command(command, env, tmp_path / "gunicorn.log")
    try:
        wait_until(lambda: _listening(port) or process.poll() is not None)
        assert process.poll() is None, process.log.read_text()
        yield ProductionWeb(port)
    finally:
        stop_process(process)


def directives(response: requests.Response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


def session_cookie(user) -> str:
    """A logged-in admin session in the test database, as the login form would make it."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def hostile_integration(other_world: World) -> HttpIntegration:
    webhook = other_world.webhook
    webhook.partner_name = HOSTILE_NAME
    webhook.save(update_fields=["partner_name"])
    return webhook


def page_types(world: World, other_world: World, operator, hostile: HttpIntegration) -> dict:
    """Path and request headers of each kind of page the web process serves; the admin's as
    the platform operator, who sees every organization's rows."""
    admin = {"Cookie": session_cookie(operator)}
    api = {"Authorization": f"Api-Key {world.key}"}
    return {
        "admin login": {"path": "/admin/login/"},
        "admin index": {"path": "/admin/", **admin},
        "change list": {"path": "/admin/integrations/httpintegration/", **admin},
        "change form": {
            "path": f"/admin/integrations/httpintegration/{hostile.pk}/change/",
            **admin,
        },
        "operations": {
            "path": f"/admin/operations/?organization={other_world.organization.pk}",
            **admin,
        },
        "swagger ui": {"path": "/api/v1/docs/"},
        "api": {"path": "/api/v1/plans/", **api},
        "api problem": {"path": "/api/v1/no-such-thing/", **api},
    }


def test_every_page_type_forbids_inline_script_and_framing(
    production_web, world, other_world, superuser, hostile_integration
):
    """Given a hostile tenant whose integration's name is markup, and the operator logged in,
    when production answers each page type over TLS,
    then each carries a policy without inline script, plugins or framing, and the markup is
    escaped where it is shown."""
    pages = page_types(world, other_world, superuser, hostile_integration)
    for kind, request in pages.items():
        response = production_web.get(request.pop("path"), **request)
        assert response.status_code in (200, 404), (kind, response.status_code)
        policy = directives(response)
        assert policy.get("default-src") == ["'self'"], kind
        script = policy.get("script-src", policy.get("default-src", []))
        assert script == ["'self'"], (kind, script)  # no 'unsafe-inline', eval, hosts, data:
        assert policy.get("object-src") == ["'none'"], kind
        assert policy.get("base-uri") == ["'self'"], kind
        assert policy.get("form-action") == ["'self'"], kind
        assert policy.get("frame-ancestors") == ["'none'"], kind
        assert response.headers.get("X-Frame-Options") == "DENY", kind
        if kind in ("change list", "change form"):
            assert HOSTILE_NAME not in response.text, kind
            assert escape(HOSTILE_NAME) in response.text, kind


def test_every_page_type_insists_on_tls(
    production_web, world, other_world, superuser, hostile_integration
):
    """Given production behind its TLS proxy,
    when each page type is answered over TLS,
    then browsers are told to use nothing else for a year (HSTS, subdomains, preload), not to
    sniff types, to keep referrers and windows to the site."""
    pages = page_types(world, other_world, superuser, hostile_integration)
    for kind, request in pages.items():
        response = production_web.get(request.pop("path"), **request)
        hsts = response.headers.get("Strict-Transport-Security")
        assert hsts == f"max-age={ONE_YEAR}; includeSubDomains; preload", (kind, hsts)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", kind
        assert response.headers.get("Referrer-Policy") == "same-origin", kind
        assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", kind


def test_plain_http_is_redirected_and_cookies_never_travel_on_it(production_web, db):
    """Given a network attacker who sees plain HTTP,
    when a browser asks for the admin without TLS, then it is sent to https:// first;
    when the admin sets its CSRF cookie, then the cookie is Secure (never sent on plain HTTP);
    probes and Prometheus, which talk to the process directly, are not redirected."""
    plain = production_web.get("/admin/login/", tls=False)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{HOST}/admin/login/"
    login = production_web.get("/admin/login/")
    assert login.status_code == 200
    csrf = login.headers["Set-Cookie"]
    assert re.search(r"(^|;)\s*Secure(;|$)", csrf, re.IGNORECASE), csrf
    assert production_web.get("/healthz", tls=False).status_code == 200
