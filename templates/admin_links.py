"""A template's neighbours in the admin: the pages where its integrations, decision table,
rules, evaluations and plans live, so a content manager moves between them by link rather
than by filtering lists by hand.

Each link is offered only to a user who may open it: the page's model admin on this site
gives view permission (a content manager has no plans, nor HTTP integrations), and counts and
HTTP integrations come from that admin's own queryset, so from the user's organization only.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.admin import AdminSite, ModelAdmin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse

from integrations.models import HttpIntegration, IntegrationDefinition, WebhookSubscription
from plans.models import Plan
from rules.models import DecisionTable, Rule, RuleEvaluation
from templates.models import PlanTemplate

__all__ = ["TemplateLink", "template_links"]


@dataclass(frozen=True)
class TemplateLink:
    label: str
    url: str
    count: int | None = None  # None: not counted


def _admin(site: AdminSite, model: type[Model], request: HttpRequest, obj=None):
    """The site's admin of `model` if the user may view it (`obj`, or any row), else None. A
    site without that page (a site built for one admin, as some tests do) links nowhere."""
    model_admin: ModelAdmin | None = site._registry.get(model)
    if model_admin is None or not model_admin.has_view_permission(request, obj):
        return None
    return model_admin


def _url(site: AdminSite, model: type[Model], page: str, *args, query: str = "") -> str:
    opts = model._meta
    return reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_{page}", args=args) + query


def template_links(
    template: PlanTemplate, request: HttpRequest, site: AdminSite
) -> Iterator[TemplateLink]:
    """Each page of admin site `site` about `template` that the user may open; evaluations
    are not counted (an audit trail can be long, and its count says nothing a person needs
    here)."""
    mine = f"?template__id__exact={template.pk}"

    def listed(model: type[Model], label: str, counted: bool) -> TemplateLink | None:
        model_admin = _admin(site, model, request)
        if model_admin is None:
            return None
        rows = model_admin.get_queryset(request).filter(template=template)
        url = _url(site, model, "changelist", query=mine)
        return TemplateLink(label, url, rows.count() if counted else None)

    link = listed(IntegrationDefinition, "inbound integrations", counted=True)
    if link is not None:
        yield link
    integrations = _admin(site, HttpIntegration, request)
    if integrations is not None:
        subscribed = WebhookSubscription.objects.filter(template=template)
        chosen = integrations.get_queryset(request).filter(pk__in=subscribed.values("integration"))
        for integration in chosen.order_by("partner_name"):
            if integrations.has_view_permission(request, integration):
                url = _url(site, HttpIntegration, "change", integration.pk)
                yield TemplateLink(f"HTTP integration {integration.partner_name}", url)
    if _admin(site, DecisionTable, request, template) is not None:
        yield TemplateLink("decision table", _url(site, DecisionTable, "change", template.pk))
    for model, label, counted in (
        (Rule, "rules", True),
        (RuleEvaluation, "evaluations", False),
        (Plan, "plans", True),
    ):
        link = listed(model, label, counted)
        if link is not None:
            yield link
