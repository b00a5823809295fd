"""The partner's webhook endpoints: list with the last day's health, create, edit (URL,
filters, pause), rotate the secret, send a test event, replay failed deliveries, delete.

Thin: reads go through portal/queries.py (the session's partner only), writes through
portal/endpoint_forms.py (the API's serializers) and integrations.webhooks.services."""

import json
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from integrations.models import DeliveryStatus
from integrations.webhooks import services as webhook_services
from portal import endpoint_forms, queries
from portal.access import portal_page, refused
from portal.stats import endpoint_stats

__all__ = [
    "create",
    "delete",
    "detail",
    "edit",
    "endpoint_list",
    "new",
    "replay",
    "rotate",
    "send_test",
]

DELIVERIES_SHOWN = 50
FIELD_TYPES = ("text", "number", "boolean", "date", "datetime")


def _form_context(request: HttpRequest, values: dict, problems: list) -> dict:
    options = endpoint_forms.choice_options(request.portal.partner.organization_id)
    choices = [
        {
            "name": name,
            "label": label,
            "mode": "all" if values.get(name) == "all" else "chosen",
            "options": [(pk, text, pk in (values.get(name) or [])) for pk, text in options[name]],
        }
        for name, label in (
            ("planCreated", "Plan created: templates"),
            ("planUpdated", "Plan updated: templates"),
            ("formSubmitted", "Form submitted: forms"),
            ("statusUpdated", "Work queue item status updated: work queues"),
        )
    ]
    rows = list(values.get("conditions") or [])
    rows += [{"path": "", "fieldType": "text", "cell": ""}] * endpoint_forms.CONDITION_ROWS
    return {
        "portal": request.portal,
        "values": values,
        "choices": choices,
        "conditions": rows,
        "condition_rows": len(rows),
        "field_types": FIELD_TYPES,
        "problems": problems,
    }


def _posted_values(post) -> dict:
    """What was typed, to show again with the problems."""
    body, _ = endpoint_forms.api_body(post)
    body["customHeaders"] = post.get("customHeaders", "")
    return body


@portal_page
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(queries.integrations(request.portal.partner))
    stats = endpoint_stats(e.pk for e in endpoints)
    rows = [(endpoint, stats[endpoint.pk]) for endpoint in endpoints]
    return render(request, "portal/endpoints.html", {"portal": request.portal, "rows": rows})


@portal_page
def new(request: HttpRequest) -> HttpResponse:
    if not request.portal.can_write:
        return refused(request, "Read-only session", "This session may not add endpoints.")
    values = {"url": "https://", "isActive": True, "customHeaders": ""}
    return render(request, "portal/endpoint_form.html", _form_context(request, values, []))


@portal_page(write=True)
def create(request: HttpRequest) -> HttpResponse:
    """Create the endpoint, and show its secret this once."""
    integration, secret, problems = endpoint_forms.create_endpoint(
        request.portal.partner, request.POST
    )
    if integration is not None:
        context = {"portal": request.portal, "endpoint": integration, "secret": secret}
        return render(request, "portal/secret.html", context)
    context = _form_context(request, _posted_values(request.POST), problems)
    return render(request, "portal/endpoint_form.html", context, status=400)


@portal_page
def detail(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    status = request.GET.get("status", "")
    deliveries = queries.deliveries(request.portal.partner).filter(integration=endpoint)
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    values = endpoint_forms.current_values(endpoint)
    values["customHeaders"] = json.dumps(values["customHeaders"]) if values["customHeaders"] else ""
    context = {
        **_form_context(request, values, []),
        "endpoint": endpoint,
        "stats": endpoint_stats([endpoint.pk])[endpoint.pk],
        "deliveries": list(deliveries[:DELIVERIES_SHOWN]),
        "status": status,
        "statuses": DeliveryStatus.values,
        "events": list(endpoint.events.all()[:10]),
        "since": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "portal/endpoint.html", context)


@portal_page(write=True)
def edit(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    problems = endpoint_forms.update_endpoint(endpoint, request.POST)
    if not problems:
        messages.success(request, "Endpoint saved.")
        return redirect("portal:endpoint", pk=endpoint.pk)
    context = {
        **_form_context(request, _posted_values(request.POST), problems),
        "endpoint": endpoint,
    }
    return render(request, "portal/endpoint_form.html", context, status=400)


@portal_page(write=True)
def rotate(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    secret = webhook_services.rotate_secret(endpoint)
    endpoint.refresh_from_db()
    context = {"portal": request.portal, "endpoint": endpoint, "secret": secret, "rotated": True}
    return render(request, "portal/secret.html", context)


@portal_page(write=True)
def send_test(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    delivery = webhook_services.send_test_event(endpoint)
    messages.success(request, "Test event queued: it appears below once sent.")
    return redirect("portal:delivery", pk=delivery.pk)


@portal_page(write=True)
def replay(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    try:
        since = datetime.fromisoformat(request.POST.get("since", ""))
    except ValueError:
        messages.error(request, "Give the date and time to replay from.")
        return redirect("portal:endpoint", pk=endpoint.pk)
    if timezone.is_naive(since):
        since = since.replace(tzinfo=UTC)
    count = webhook_services.replay_failed_since(endpoint, since)
    messages.success(
        request, f"{count} failed deliveries since {since:%Y-%m-%d %H:%M} UTC queued again."
    )
    return redirect("portal:endpoint", pk=endpoint.pk)


@portal_page(write=True)
def delete(request: HttpRequest, pk: str) -> HttpResponse:
    endpoint = queries.integration(request.portal.partner, pk)
    try:
        webhook_services.delete_integration(endpoint)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("portal:endpoint", pk=endpoint.pk)
    messages.success(request, f"Endpoint {endpoint.url} deleted with its delivery log.")
    return redirect("portal:endpoints")
