"""A plan template's "see also" links (templates/admin_links.py): each page about the template
is offered only to a user who may open it, and every link offered opens."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from dev.demo import DEMO_ORG_SLUG, ensure_demo_integration, load_demo
from healix.models import Organization, User, UserType
from integrations.models import WebhookSubscription
from templates.models import PlanTemplate
from tests.fixtures.domain import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(editor_groups) -> PlanTemplate:
    """The demo organization's template (with its plans and rules), chosen by its HTTP
    integration for plan created events."""
    load_demo()
    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    template = PlanTemplate.objects.get(organization=organization)
    WebhookSubscription.objects.create(
        organization=organization,
        integration=ensure_demo_integration(organization),
        event_type="planCreated",
        template=template,
    )
    return template


def see_also(client, user: User, template: PlanTemplate) -> dict[str, str]:
    """The "see also" links of the template's page as `user` reads them: {text: url}."""
    client.force_login(user)
    response = client.get(reverse("admin:templates_plantemplate_change", args=[template.pk]))
    assert response.status_code == 200
    block = re.search(r'field-related_links">(.*?)</fieldset>', response.content.decode(), re.S)
    if block is None:
        return {}
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', block.group(1))
    return {text: url.replace("&amp;", "&") for url, text in links}


def labels(links: dict[str, str]) -> list[str]:
    """Link texts without their counts: "rules (1)" -> "rules"."""
    return [re.sub(r" \(\d+\)$", "", text) for text in links]


def test_an_administrator_sees_every_page_about_the_template(client, demo):
    links = see_also(client, User.objects.get(username="hrh-admin"), demo)
    assert labels(links) == [
        "inbound integrations",
        "HTTP integration Demo receiver",
        "decision table",
        "rules",
        "evaluations",
        "plans",
    ]
    plans = demo.plans.count()
    assert f"plans ({plans})" in links and plans > 0
    for url in links.values():
        assert client.get(url).status_code == 200, url


def test_a_content_manager_sees_only_the_pages_they_may_open(client, demo):
    # Content managers have neither plans nor HTTP integrations
    links = see_also(client, User.objects.get(username="hrh-content"), demo)
    assert labels(links) == ["inbound integrations", "decision table", "rules", "evaluations"]
    for url in links.values():
        assert client.get(url).status_code == 200, url


def test_a_content_manager_without_the_rules_permission_sees_no_rules_link(
    client, demo, editor_groups
):
    # Given a content manager of the demo organization with every grant of the group but the
    # rules' (neither view nor change: either lets one view)
    group = editor_groups["Content managers"]
    user = make_user(demo.organization, "no-rules", UserType.ADMIN, is_staff=True)
    user.user_permissions.set(group.permissions.exclude(codename__in=["view_rule", "change_rule"]))
    # When they open the template's page
    links = see_also(client, user, demo)
    # Then the rules are not offered, and the page they would have opened is indeed closed
    assert labels(links) == ["inbound integrations", "decision table", "evaluations"]
    rules = reverse("admin:rules_rule_changelist") + f"?template__id__exact={demo.pk}"
    assert client.get(rules).status_code == 403
    for url in links.values():
        assert client.get(url).status_code == 200, url


def test_a_user_who_may_view_nothing_else_sees_no_links(client, demo):
    # Only templates: no integrations, no rules, no plans
    user = make_user(demo.organization, "templates-only", UserType.ADMIN, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_plantemplate"))
    assert see_also(client, user, demo) == {}
