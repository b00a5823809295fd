"""The operations page of the admin: one organization's traffic as charts over the last hour
or day (healix/admin/operations.py computes, healix/admin/charts.py draws). A staff user sees their
own
organization only; a superuser picks one."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from healix.admin.changelist_links import change_url, changelist_url
from healix.admin.charts import line_chart
from healix.admin.operations import WINDOWS, IntegrationLine, overview
from healix.models import Organization
from integrations.models import DeliveryStatus, HttpIntegration, InboundEvent, WebhookDelivery

__all__ = ["operations_view"]

DEFAULT_WINDOW = "hour"


def _organization(request: HttpRequest) -> tuple[Organization, list[Organization]]:
    """The organization shown, and those the user may pick from (superusers only)."""
    user = request.user
    if not user.is_superuser:  # every other user has an organization (a database constraint)
        return user.organization, []
    choices = list(Organization.objects.order_by("slug"))
    wanted = request.GET.get("organization", "")
    chosen = next((org for org in choices if str(org.pk) == wanted), None)
    if chosen is None and choices:
        chosen = choices[0]
    if chosen is None:
        raise PermissionDenied("There is no organization yet.")
    return chosen, choices


def endpoint_links(request: HttpRequest, line: IntegrationLine) -> dict[str, str | None]:
    """An HTTP integration's page and its deliveries, pending, waiting for a retry (pending,
    the most tried first: sorted by the attempts column by name) and failed; None for a user
    who may not open them (the name and counts are shown without a link)."""
    mine = {"integration__id__exact": str(line.id)}
    pending = {**mine, "status__exact": DeliveryStatus.PENDING}
    return {
        "integration": change_url(request, HttpIntegration, line.id),
        "pending": changelist_url(request, WebhookDelivery, pending),
        "retrying": changelist_url(request, WebhookDelivery, pending, "-attempt_count"),
        "failed": changelist_url(
            request, WebhookDelivery, {**mine, "status__exact": DeliveryStatus.FAILED}
        ),
    }


def operations_view(request: HttpRequest) -> HttpResponse:
    organization, choices = _organization(request)
    window_key = request.GET.get("window", DEFAULT_WINDOW)
    if window_key not in WINDOWS:
        window_key = DEFAULT_WINDOW
    found = overview(organization.pk, WINDOWS[window_key])
    starts = found.starts
    context = {
        **admin.site.each_context(request),
        "title": f"Operations: {organization.name}",
        "organization": organization,
        "choices": choices,
        "window_key": window_key,
        "windows": WINDOWS,
        "overview": found,
        "inbound_chart": line_chart("Inbound events", found.inbound, starts),
        "published_chart": line_chart("Events published", found.published, starts),
        "rules_chart": line_chart("Rules", found.rules, starts),
        "endpoints": [(line, endpoint_links(request, line)) for line in found.integrations],
        "given_up_url": changelist_url(request, InboundEvent, {"rules": "given_up"}),
        # The hand-over is an action that needs the change permission; others may look.
        "may_hand_over": request.user.has_perm("integrations.change_inboundevent"),
        "integration_charts": [
            (line, line_chart(line.name, line.series, starts)) for line in found.integrations
        ],
    }
    return TemplateResponse(request, "admin/healix/operations.html", context)
