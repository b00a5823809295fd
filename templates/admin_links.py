"""A template's neighbours in the admin: the pages where its integrations, decision table,
rules, evaluations and plans live, so a content manager moves between them by link rather
than by filtering lists by hand."""

from collections.abc import Iterator

from django.urls import NoReverseMatch, reverse

from integrations.models import HttpIntegration, IntegrationDefinition, WebhookSubscription
from plans.models import Plan
from rules.models import Rule
from templates.models import PlanTemplate

__all__ = ["template_links"]


def _url(site: str, name: str, *args, query: str = "") -> str | None:
    # A site without that page (a site built for one admin, as some tests do) links nowhere.
    try:
        return reverse(f"{site}:{name}", args=args) + query
    except NoReverseMatch:
        return None


def template_links(
    template: PlanTemplate, site: str = "admin"
) -> Iterator[tuple[str, str, int | None]]:
    """(label, url, count or None) for each page of admin site `site` about `template`;
    evaluations are not counted (an audit trail can be long, and its count says nothing a
    person needs here)."""
    mine = f"?template__id__exact={template.pk}"
    subscribed = WebhookSubscription.objects.filter(template=template).values("integration")
    candidates = [
        (
            "inbound integrations",
            _url(site, "integrations_integrationdefinition_changelist", query=mine),
            lambda: IntegrationDefinition.objects.filter(template=template).count(),
        ),
        *(
            (
                f"HTTP integration {integration.partner_name}",
                _url(site, "integrations_httpintegration_change", integration.pk),
                None,
            )
            for integration in HttpIntegration.objects.filter(pk__in=subscribed).order_by(
                "partner_name"
            )
        ),
        ("decision table", _url(site, "rules_decisiontable_change", template.pk), None),
        (
            "rules",
            _url(site, "rules_rule_changelist", query=mine),
            lambda: Rule.objects.filter(template=template).count(),
        ),
        ("evaluations", _url(site, "rules_ruleevaluation_changelist", query=mine), None),
        (
            "plans",
            _url(site, "plans_plan_changelist", query=mine),
            lambda: Plan.objects.filter(template=template).count(),
        ),
    ]
    for label, url, count in candidates:
        if url is not None:
            yield label, url, count() if count is not None else None
