"""Every page a content manager or an administrator works in, opened in a 1366 x 768 window:
the page never scrolls sideways, no script or request fails, and a screenshot of the whole
page is kept (var/test-artifacts/browser/<test>/)."""

from collections.abc import Callable

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from dev.demo import DEMO_ORG_SLUG, ensure_demo_integration, load_demo
from healix.models import Organization, OrganizationAPIKey, User
from integrations.models import HttpIntegration, InboundEvent, IntegrationDefinition
from integrations.webhooks.services import send_test_event
from plans.models import Plan, WorkQueueItem
from rules.models import Rule, RuleEvaluation
from templates.models import FormAssignmentDefinition, PlanTemplate
from tests.browser.ui import log_in
from tests.fixtures.domain import PASSWORD

pytestmark = pytest.mark.browser

CONTENT_MANAGER, ADMINISTRATOR = "hrh-content", "hrh-admin"


@pytest.fixture
def demo(editor_groups) -> Organization:
    """The demo organization of `make run` (a template with its rules, plans, a work queue item
    moved to another status, an evaluation), plus a webhook delivery and an API key; its
    content manager and administrator given a password."""
    load_demo()
    organization = Organization.objects.get(slug=DEMO_ORG_SLUG)
    send_test_event(ensure_demo_integration(organization))
    OrganizationAPIKey.objects.create_key(organization=organization, name="lab system")
    for username in (CONTENT_MANAGER, ADMINISTRATOR):
        user = User.objects.get(username=username)
        user.set_password(PASSWORD)
        user.save()
    return organization


def change(model, obj) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def first(model):
    return model.objects.order_by("pk").first()


# (step name, URL of the page, who may open it): every page issue 17 names.
BOTH = (CONTENT_MANAGER, ADMINISTRATOR)
PAGES: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
    ("template", lambda: change(PlanTemplate, first(PlanTemplate)), BOTH),
    (
        "default-calculations",
        lambda: change(
            FormAssignmentDefinition,
            FormAssignmentDefinition.objects.get(form__name="appointment"),
        ),
        BOTH,
    ),
    (
        "inbound-integration",
        lambda: change(IntegrationDefinition, first(IntegrationDefinition)),
        BOTH,
    ),
    (
        "decision-table",
        lambda: reverse("admin:rules_decisiontable_change", args=[first(PlanTemplate).pk]),
        BOTH,
    ),
    ("rule", lambda: change(Rule, first(Rule)), BOTH),
    ("rules", lambda: changelist(Rule), BOTH),
    ("evaluations", lambda: changelist(RuleEvaluation), BOTH),
    ("evaluation", lambda: change(RuleEvaluation, first(RuleEvaluation)), BOTH),
    ("operations", lambda: reverse("admin:operations"), BOTH),
    ("plan", lambda: change(Plan, first(Plan)), (ADMINISTRATOR,)),
    ("work-queue-items", lambda: changelist(WorkQueueItem), (ADMINISTRATOR,)),
    ("work-queue-item", lambda: change(WorkQueueItem, first(WorkQueueItem)), (ADMINISTRATOR,)),
    ("http-integration", lambda: change(HttpIntegration, first(HttpIntegration)), (ADMINISTRATOR,)),
    (
        "deliveries",
        lambda: reverse("admin:integrations_webhookdelivery_changelist"),
        (ADMINISTRATOR,),
    ),
    (
        "delivery",
        lambda: reverse(
            "admin:integrations_webhookdelivery_change",
            args=[HttpIntegration.objects.get().deliveries.get().pk],
        ),
        (ADMINISTRATOR,),
    ),
    ("inbound-events", lambda: changelist(InboundEvent), (ADMINISTRATOR,)),
    ("inbound-event", lambda: change(InboundEvent, first(InboundEvent)), (ADMINISTRATOR,)),
    ("api-keys", lambda: changelist(OrganizationAPIKey), (ADMINISTRATOR,)),
]


def overflow(page: Page) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page: the first larger means a sideways scrollbar."""
    return tuple(
        page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    )


# Boxes that scroll sideways on their own (a change list's results, a tabular inline): the
# page fits, yet their last columns are out of sight.
SCROLLING_BOXES = "#changelist-form .results, .inline-group .tabular"


def hidden_columns(page: Page) -> list[str]:
    """Each box of SCROLLING_BOXES whose content is wider than the box."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter((box) => box.scrollWidth > box.clientWidth + 1)
            .map((box) => `${box.className}: ${box.scrollWidth} px in ${box.clientWidth}`)""",
        SCROLLING_BOXES,
    )


def check_fits(page: Page, shots, console_errors, step: str) -> list[str]:
    """What is wrong with the page on the screen now, in words (nothing: it fits)."""
    shots(step)
    scroll_width, client_width = overflow(page)
    problems = [f"{step}: {error}" for error in console_errors.take()]
    if scroll_width > client_width:
        problems.append(f"{step}: {scroll_width} px wide in a {client_width} px window")
    problems += [f"{step}: columns out of sight in {box}" for box in hidden_columns(page)]
    return problems


@pytest.mark.parametrize("who", BOTH)
def test_every_page_fits_a_1366_px_window(page, shots, console_errors, demo, who):
    # Given the demo organization's content manager or administrator, logged in
    log_in(page, User.objects.get(username=who))
    problems = []
    for step, url, allowed in PAGES:
        if who not in allowed:
            continue
        # When they open the page
        response = page.goto(url())
        assert response is not None and response.status == 200, step
        expect(page.locator("#content")).to_be_visible()
        problems += check_fits(page, shots, console_errors, step)
    # And the simulator, with a verdict on the screen
    page.goto(reverse("admin:rules_decisiontable_simulate", args=[first(PlanTemplate).pk]))
    page.get_by_label("Plan").select_option(index=1)
    page.get_by_label("Trigger").select_option(label="On integration event")
    page.get_by_label("Subject").select_option(label="aiEngineTimeSlot")
    page.get_by_label("Payload").fill('{"timeSlot": "2026-12-01T09:30"}')
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#simulation-result")).to_contain_text("would assign form appointment")
    problems += check_fits(page, shots, console_errors, "simulation")
    # Then every page fitted the window's width, and no script or request failed
    assert problems == []
