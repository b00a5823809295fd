"""The pages that show and change nothing of the partner's: the event catalog, its inbound
subjects and events with "try a payload", and its keys' bus credentials."""

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bus.credentials import bus_credentials
from integrations.inbound.schemas import definition_schema
from integrations.inbound.services import check_only
from integrations.models import InboundStatus
from portal import queries
from portal.access import portal_page
from portal.catalog import catalog

__all__ = ["bus", "event_catalog", "inbound", "inbound_event", "try_payload"]


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@portal_page
def event_catalog(request: HttpRequest) -> HttpResponse:
    org_id = request.portal.partner.organization.slug
    types = [
        {**entry, "schema": _pretty(entry["schema"]), "example": _pretty(entry["example"])}
        for entry in catalog(org_id)
    ]
    return render(request, "portal/catalog.html", {"portal": request.portal, "types": types})


def _subjects(partner) -> list[dict]:
    return [
        {
            "subject": definition.subject,
            "template": definition.template.name,
            "description": definition.description,
            "schema": _pretty(definition_schema(definition)),
        }
        for definition in queries.definitions(partner)
    ]


@portal_page
def inbound(request: HttpRequest) -> HttpResponse:
    partner = request.portal.partner
    status = request.GET.get("status", "")
    status = status if status in InboundStatus.values else ""
    context = {
        "portal": request.portal,
        "subjects": _subjects(partner),
        "names": queries.subjects(partner),
        "events": queries.inbound_events(partner, status),
        "status": status,
        "statuses": InboundStatus.values,
        "org_id": partner.organization.slug,
    }
    return render(request, "portal/inbound.html", context)


@portal_page
def inbound_event(request: HttpRequest, pk: str) -> HttpResponse:
    event = queries.inbound_event(request.portal.partner, pk)
    context = {
        "portal": request.portal,
        "event": event,
        "payload": _pretty(event.payload) if event.payload is not None else "",
    }
    return render(request, "portal/inbound_event.html", context)


@portal_page
def try_payload(request: HttpRequest) -> HttpResponse:
    """Validate a payload as ingest() would, storing nothing (a read: read-only sessions may)."""
    partner = request.portal.partner
    names = queries.subjects(partner)
    subject = request.POST.get("subject", "")
    body = request.POST.get("body", "")
    if request.method == "GET" and request.GET.get("event"):
        # "Try a fixed copy" of one of its events: that event's subject and payload.
        event = queries.inbound_event(partner, request.GET["event"])
        subject = event.subject
        body = _pretty(event.payload) if event.payload is not None else event.raw_body
    verdict = None
    if request.method == "POST":
        if subject not in names:
            verdict = {"ok": False, "problems": [{"pointer": "#", "detail": "Not your subject."}]}
        else:
            rejection, problems, plan_ids = check_only(partner.organization_id, subject, body)
            verdict = {
                "ok": rejection is None,
                "title": rejection.title if rejection else "Would be accepted",
                "problems": [p.as_dict() for p in problems],
                "plans": plan_ids,
            }
    context = {
        "portal": request.portal,
        "names": names,
        "subject": subject,
        "body": body,
        "verdict": verdict,
    }
    return render(request, "portal/try.html", context, status=200)


@portal_page
def bus(request: HttpRequest) -> HttpResponse:
    keys = []
    for key in queries.api_keys(request.portal.partner):
        credentials = bus_credentials(key)
        example = credentials.pop("example") if credentials else ""
        keys.append(
            {
                "key": key,
                "credentials": _pretty(credentials) if credentials else "",
                "example": example,
            }
        )
    return render(request, "portal/bus.html", {"portal": request.portal, "keys": keys})
