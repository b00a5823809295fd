"""Who is on a portal page: the portal session kept in the Django session (not a Django user
login). `portal_page` loads it on every request, so a revoked or expired session stops at the
next click, and refuses writes to a read-only one; every page then reads only through
`request.portal.partner` (portal/queries.py)."""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from portal.models import PortalSession
from portal.services import live_session

__all__ = ["SESSION_KEY", "begin", "end", "portal_page"]

# The Django session's entry naming the portal session (nothing else of the portal is kept).
SESSION_KEY = "healix_portal_session"


def begin(request: HttpRequest, session: PortalSession) -> None:
    """Bind the started portal session to this browser: a new Django session id (no fixation),
    ending when the portal session does."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = str(session.pk)
    request.session.set_expiry(session.expires_at)


def end(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def refused(request: HttpRequest, title: str, detail: str) -> HttpResponse:
    context = {"title": title, "detail": detail, "portal": None}
    return render(request, "portal/refused.html", context, status=403)


def portal_page(view: Callable | None = None, *, write: bool = False) -> Callable:
    """A portal page: 403 without a live portal session; with `write`, POST only and 403 for
    a read-only session."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            session = live_session(request.session.get(SESSION_KEY))
            if session is None:
                end(request)
                return refused(
                    request,
                    "No portal session",
                    "Your portal session has ended, was revoked, or never started. Ask the "
                    "organization for a new link.",
                )
            if write and not session.can_write:
                return refused(
                    request,
                    "Read-only session",
                    "This portal session may look but not change anything. Ask the "
                    "organization for a read-write link.",
                )
            request.portal = session
            return view(request, *args, **kwargs)

        return require_POST(wrapped) if write else wrapped

    return decorate(view) if view is not None else decorate
