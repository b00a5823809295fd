"""The browser's middleware (sessions, user, messages) runs for the admin and the portal,
never for the API, which knows its callers by key alone (healix/api/middleware.py)."""

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory

from healix.api.middleware import (
    BrowserAuthenticationMiddleware,
    BrowserMessageMiddleware,
    BrowserSessionMiddleware,
)

pytestmark = pytest.mark.django_db


def test_skipped_under_api_and_run_elsewhere():
    seen = {}

    def view(request):
        seen[request.path] = {
            name: hasattr(request, name) for name in ("session", "user", "_messages")
        }
        return HttpResponse("ok")

    chain = BrowserSessionMiddleware(
        BrowserAuthenticationMiddleware(BrowserMessageMiddleware(view))
    )
    for path in ("/api/v1/events/", "/admin/", "/portal/"):
        chain(RequestFactory().get(path))
    assert seen["/api/v1/events/"] == {"session": False, "user": False, "_messages": False}
    assert seen["/admin/"] == seen["/portal/"] == {"session": True, "user": True, "_messages": True}
    # And they are the ones the site runs
    for middleware in (
        BrowserSessionMiddleware,
        BrowserAuthenticationMiddleware,
        BrowserMessageMiddleware,
    ):
        assert f"{middleware.__module__}.{middleware.__name__}" in settings.MIDDLEWARE


def test_an_admins_session_cookie_neither_opens_the_api_nor_is_refreshed_by_it(world, superuser):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    # The admin's session works where it belongs
    assert browser.get("/admin/").status_code == 200
    # But on the API it is no credential, and the answer sets no cookie
    response = browser.get("/api/v1/events/")
    assert response.status_code == 401
    assert not response.cookies
    # While a key, sent beside the same cookie, is answered without one too
    keyed = browser.get("/api/v1/events/", headers={"Authorization": f"Api-Key {world.key}"})
    assert keyed.status_code == 200 and not keyed.cookies
