"""The admin, the operations view and the Swagger UI, used in a real browser under the
Content-Security-Policy every page is served with (healix/settings_headers.py): each page
renders, its widgets work, and no page breaks the policy (the CSP monitor of conftest.py fails
a test on any violation, from any page it visited)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.ui import add_inline_row, log_in, open_from_home
from tests.fixtures.api import World

pytestmark = pytest.mark.browser


def wraps_lines(page: Page) -> None:
    """A read-only JSON field is styled by the admin stylesheet (a file, not inline style)."""
    block = page.locator("pre.healix-json").first
    expect(block).to_be_visible()
    assert block.evaluate("(e) => getComputedStyle(e).whiteSpace") == "pre-wrap"


def test_a_staff_user_uses_every_kind_of_admin_page_under_the_policy(
    page, shots, csp_monitor, hrh_administrator, world: World
):
    # The login page and the index
    log_in(page, hrh_administrator)
    shots("index")

    # The operations view: charts drawn as inline SVG, legends with SVG swatches
    page.get_by_role("link", name="Operations view").click()
    expect(page.locator("figure.ops-chart")).to_have_count(4)  # three, and one per integration
    expect(page.locator(".ops-legend svg.ops-swatch").first).to_be_visible()
    page.get_by_label("Window").select_option("day")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("h2", has_text="Last day, per 15 minutes")).to_be_visible()
    shots("operations")

    # A change list with a free-text filter, used
    page.goto("/admin/events/outboxevent/")
    text_filter = page.locator("#changelist-filter input.healix-text-filter[name=plan_id]")
    expect(text_filter).to_be_visible()
    text_filter.fill(str(world.plan.pk))
    text_filter.press("Enter")
    expect(page.locator("#result_list tbody tr")).not_to_have_count(0)
    shots("change-list-filtered")

    # A change form with its widgets: the calendar of a date field, the fieldsets
    page.goto(f"/admin/plans/plan/{world.plan.pk}/change/")
    page.locator("#calendarlink0").click()
    calendar = page.locator("#calendarbox0")
    expect(calendar).to_be_visible()
    calendar.get_by_role("link", name="Tomorrow").click()
    expect(page.locator("#id_end_date_0")).not_to_have_value("")
    shots("plan-calendar-used")

    # An autocomplete widget (select2, asking the admin's autocomplete view as one types)
    page.goto("/admin/plans/workqueueitem/add/")
    page.locator(".field-plan .select2-selection").click()
    page.locator(".select2-search__field").fill("API")
    expect(page.locator(".select2-results__option", has_text="API")).to_be_visible()
    shots("autocomplete-open")
    page.keyboard.press("Escape")

    # The date and time widgets of an API key, with their shortcuts
    page.goto("/admin/healix/organizationapikey/add/")
    page.locator(".datetimeshortcuts a", has_text="Now").first.click()
    expect(page.locator("input[name$='expiry_date_1']")).not_to_have_value("")
    shots("api-key-datetime")

    # The template editor: an inline row added by the admin's inline script
    open_from_home(page, "Plan templates", world.plan.template.name)
    add_inline_row(page, "integrations")
    shots("template-editor-new-row")

    # The template import page (a file upload form)
    page.goto("/admin/templates/plantemplate/import/")
    expect(page.get_by_role("button", name="Import")).to_be_visible()

    # The decision table editor, then its simulator with a result
    page.goto(f"/admin/rules/decisiontable/{world.plan.template_id}/change/")
    add_inline_row(page, "rules")
    shots("decision-table-new-row")
    page.get_by_role("link", name="Simulate").click()
    page.get_by_label("Plan").select_option(label=str(world.plan))
    page.get_by_label("Trigger").select_option(label="On integration event")
    page.get_by_label("Subject").select_option(label="aiEngineTimeSlot")
    page.get_by_label("Payload").fill('{"timeSlot": "10:00"}')
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#simulation-result")).to_be_visible()
    shots("simulation")

    # Read-only JSON: an inbound event's payload, a webhook delivery's
    page.goto(f"/admin/integrations/inboundevent/{world.inbound.pk}/change/")
    wraps_lines(page)
    page.goto(f"/admin/integrations/webhookdelivery/{world.delivery.pk}/change/")
    wraps_lines(page)
    shots("delivery-json")

    # An action's intermediate page (a form with the admin's widgets)
    page.goto("/admin/integrations/httpintegration/")
    page.locator("#result_list tr", has_text=world.webhook.partner_name).get_by_role(
        "checkbox"
    ).check()
    page.get_by_role("combobox", name=re.compile(r"^Action")).select_option(value="replay_failed")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("button", name="Replay")).to_be_visible()
    shots("replay-failed-form")

    # Logging out posts a form
    page.locator("#logout-form button").click()
    expect(page.get_by_text("Logged out")).to_be_visible()


def test_the_swagger_ui_lists_operations_and_authorizes_under_the_policy(
    page, shots, csp_monitor, world: World
):
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Healix integration API")
    plans = page.locator(".opblock", has=page.locator("[data-path='/api/v1/plans/']"))
    expect(plans.first).to_be_visible()
    expect(page.locator(".opblock").nth(10)).to_be_visible()  # the whole list, not one
    shots("operations-list")

    # Authorize opens its dialog; the key is kept for the calls that follow
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    expect(dialog).to_be_visible()
    dialog.locator("input").first.fill(f"Api-Key {world.key}")
    dialog.locator("button.authorize", has_text="Authorize").click()
    expect(dialog.locator("button", has_text="Logout")).to_be_visible()
    shots("authorized")
    dialog.locator("button", has_text="Close").click()

    # One call made from the page (a fetch to the API, same origin)
    listing = page.locator(".opblock-get", has=page.locator("[data-path='/api/v1/plans/']"))
    listing.first.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    shots("call-made")
