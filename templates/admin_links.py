"""A template's neighbours in the admin: the pages where its integrations, decision table,
rules, evaluations and plans live, so a content manager moves between them by link rather
than by filtering lists by hand."""

from collections.abc import Iterator

from django.urls import reverse

from integrations.models import HttpIntegration, HttpIntegrationTemplate, IntegrationDefinition
from plans.models import Plan
from rules.models import Rule
from templates.models import PlanTemplate

__all__ = ["template_links"]


def _changelist(name: str, template: PlanTemplate) -> str:
    return reverse(f"admin:{name}_changelist") + f"?template__id__exact={template.pk}"


def template_links(template: PlanTemplate) -> Iterator[tuple[str, str, int | None]]:
    """(label, url, count or None) for each page about `template`; evaluations are not
    counted (an audit trail can be long, and the count says nothing a person needs here)."""
    yield (
        "inbound integrations",
        _changelist("integrations_integrationdefinition", template),
        IntegrationDefinition.objects.filter(template=template).count(),
    )
    subscribed = HttpIntegrationTemplate.objects.filter(template=template).values("integration")
    for integration in HttpIntegration.objects.filter(pk__in=subscribed).order_by("partner_name"):
        url = reverse("admin:integrations_httpintegration_change", args=[integration.pk])
        yield (f"HTTP integration {integration.partner_name}", url, None)
    yield (
        "decision table",
        reverse("admin:rules_decisiontable_change", args=[template.pk]),
        None,
    )
    yield (
        "rules",
        _changelist("rules_rule", template),
        Rule.objects.filter(template=template).count(),
    )
    yield ("evaluations", _changelist("rules_ruleevaluation", template), None)
    yield (
        "plans",
        _changelist("plans_plan", template),
        Plan.objects.filter(template=template).count(),
    )
