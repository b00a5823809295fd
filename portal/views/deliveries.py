"""One delivery with every attempt, and "retry now" (integrations.webhooks.services)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from integrations.webhooks import services as webhook_services
from portal import queries
from portal.access import portal_page

__all__ = ["delivery", "retry"]


@portal_page
def delivery(request: HttpRequest, pk: str) -> HttpResponse:
    found = queries.delivery(request.portal.partner, pk)
    return render(request, "portal/delivery.html", {"portal": request.portal, "delivery": found})


@portal_page(write=True)
def retry(request: HttpRequest, pk: str) -> HttpResponse:
    found = queries.delivery(request.portal.partner, pk)
    if webhook_services.retry_delivery(found):
        messages.success(request, "Queued: it is attempted again now.")
    else:
        messages.error(request, "Not retried: it succeeded already, or is being sent right now.")
    return redirect("portal:delivery", pk=found.pk)
