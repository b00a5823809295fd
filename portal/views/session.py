"""Following a magic link, the portal's home page, and leaving.

GET of a link only shows a page with a button: link scanners and previews that fetch URLs
must not spend the single use. The POST spends it and starts the session."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal import queries
from portal.access import begin, end, portal_page, refused
from portal.services import LinkRefused, start_session

__all__ = ["home", "leave", "start"]


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/start.html", {"portal": None})
    try:
        session = start_session(token)
    except LinkRefused as error:
        return refused(request, "Link not valid", str(error))
    begin(request, session)
    return redirect("portal:home")


@portal_page
def home(request: HttpRequest) -> HttpResponse:
    partner = request.portal.partner
    context = {
        "portal": request.portal,
        "endpoints": queries.integrations(partner).count(),
        "keys": queries.api_keys(partner).count(),
        "subjects": queries.subjects(partner),
    }
    return render(request, "portal/home.html", context)


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    end(request)
    return render(request, "portal/refused.html", {"title": "Signed out", "portal": None})
