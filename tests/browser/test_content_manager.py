"""A content manager's whole task, in a real browser at 1366 x 768, with keyboard and mouse: an
integration with two fields on a plan template, two rules on it in the decision table's grid
(a shorthand cell with an error fixed on the way; several actions per row written in the
grid, each kind showing only its inputs, an action's error shown at its input; the second row
typed with the keyboard, its actions added, removed and reordered with Alt+ArrowUp, the row
moved above the first), the simulator's verdict in words, and a real evaluation explained,
reached from the template's page."""

import json
import re

import pytest
from playwright.sync_api import expect

from integrations.inbound.services import ingest
from integrations.models import InboundSource, IntegrationDefinition
from rules.models import ActionKind, Rule
from rules.services import evaluate_inbound_events
from tests.browser.ui import (
    add_action,
    add_inline_row,
    cell,
    log_in,
    open_from_home,
    save_and_continue,
)

pytestmark = pytest.mark.browser

SAVED = re.compile(r"was changed successfully")


def test_content_manager_defines_an_integration_and_two_rules_then_simulates_and_reads_why(
    page, shots, console_errors, hrh_content_manager, template, plan, other_template, other_plan
):
    # The other organization has a template of the same name and a plan: never shown here
    log_in(page, hrh_content_manager)
    shots("logged-in")

    # The template editor: a new integration in its Integrations inline
    open_from_home(page, "Plan templates")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#result_list").get_by_role("link", name=template.name).click()
    row = add_inline_row(page, "integrations")
    cell(row, "subject").fill("labResult")
    cell(row, "description").fill("A potassium result from the lab system.")
    shots("template-new-integration")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)

    # Its fields, on the integration's own page (the row's Change link)
    integrations = page.locator("#integrations-group")
    lab_row = integrations.locator("tr", has=page.locator("input[value='labResult']"))
    lab_row.get_by_role("link", name="Change").click()
    for position, (name, field_type, required) in enumerate(
        [("potassium", "Number", True), ("unit", "String", False)]
    ):
        row = add_inline_row(page, "fields")
        cell(row, "position").fill(str(position))
        cell(row, "name").fill(name)
        cell(row, "field_type").select_option(label=field_type)
        if required:
            cell(row, "required").check()
    shots("integration-fields")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)
    schema = page.locator(".field-json_schema pre")
    expect(schema).to_contain_text('"potassium"')
    shots("integration-saved-with-schema")
    definition = IntegrationDefinition.objects.get(template=template, subject="labResult")
    assert [(f.name, f.field_type, f.required) for f in definition.fields.all()] == [
        ("potassium", "number", True),
        ("unit", "string", False),
    ]
    assert json.loads(schema.inner_text())["required"] == ["potassium"]

    # The decision table: a column on the new field, saved before its cells are written
    open_from_home(page, "Decision tables", template.name)
    row = add_inline_row(page, "rule_columns")
    cell(row, "position").fill("5")
    cell(row, "name").fill("potassium")
    cell(row, "reference").fill("integration.labResult.potassium")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)

    # A row whose cell does not parse for a number column
    row = add_inline_row(page, "rules")
    cell(row, "position").fill("1")
    cell(row, "name").fill("High potassium")
    cell(row, "trigger").select_option(label="On integration event")
    cell(row, "subject").fill("labResult")
    cell(row, "cell_potassium").fill(">=high")
    save_and_continue(page)
    error = page.locator("#rules-group .errorlist")
    expect(error).to_contain_text("`high` is not a number (number column, character 3)")
    shots("cell-error")
    assert not Rule.objects.filter(name="High potassium").exists()

    # Fixed, and saved
    page.locator("#rules-group input[value='>=high']").fill(">=5.5")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)
    shots("rule-saved")
    rule = Rule.objects.get(template=template, name="High potassium")
    assert rule.cells == {"potassium": ">=5.5"}

    # Its actions, in its line of the grid: the appointment form, and the plan's risk status;
    # each kind shows only the inputs it reads
    rules = page.locator("#rules-group")
    high = rules.locator("tr.form-row", has=page.locator("input[value='High potassium']"))
    action = add_action(high)
    expect(cell(action, "kind")).to_be_focused()
    cell(action, "kind").select_option(label="Assign form")
    expect(cell(action, "target")).to_be_hidden()
    cell(action, "form_assignment").select_option(label="appointment → Patient")
    action = add_action(high)
    cell(action, "kind").select_option(label="Set data point")
    expect(cell(action, "form_assignment")).to_be_hidden()
    expect(cell(action, "work_queue")).to_be_hidden()
    # First on the number custom field score, which text does not fit
    cell(action, "target").fill("plan.score")
    cell(action, "expression").fill('"high"')
    save_and_continue(page)
    expect(action.locator(".field-expression .errorlist")).to_have_text(
        "The expression gives text, but plan.score takes number."
    )
    shots("action-error")
    assert not rule.actions.exists()
    # Fixed: the risk status, which is text
    cell(action, "target").fill("plan.riskStatus")
    shots("rule-actions")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)
    kinds = [a.kind for a in rule.actions.order_by("position")]
    assert kinds == [ActionKind.ASSIGN_FORM, ActionKind.SET_DATA_POINT]

    # A second row, typed with the keyboard, then moved above the first with Alt+ArrowUp
    open_from_home(page, "Decision tables", template.name)
    row = add_inline_row(page, "rules")
    cell(row, "name").focus()
    page.keyboard.type("Very high potassium")
    cell(row, "trigger").select_option(label="On integration event")
    expect(cell(row, "elapsed_reference")).to_be_hidden()  # read only by "Time elapsed"
    cell(row, "subject").focus()
    page.keyboard.type("labResult")
    page.keyboard.press("Tab")  # the hidden settings are skipped: the potassium cell is next
    expect(cell(row, "cell_potassium")).to_be_focused()
    page.keyboard.type(">=6.5")
    page.keyboard.press("Alt+ArrowUp")
    very_high = rules.locator("tr.form-row").first
    expect(very_high.locator("[name$='-name']")).to_have_value("Very high potassium")

    # Its actions, before it is ever saved: Tab reaches "Add an action", Enter adds one
    page.keyboard.press("Tab")
    expect(very_high.get_by_role("button", name="Add an action")).to_be_focused()
    page.keyboard.press("Enter")
    mistake = very_high.locator("li.grid-action").first
    expect(cell(mistake, "kind")).to_be_focused()
    cell(mistake, "kind").select_option(label="Create work queue item")
    expect(cell(mistake, "work_queue")).to_be_visible()
    # The plan's triage goes red and its score to 9
    for target, value in [("plan.triage", '"red"'), ("plan.score", "9")]:
        action = add_action(very_high)
        cell(action, "kind").select_option(label="Set data point")
        cell(action, "target").fill(target)
        cell(action, "expression").fill(value)
    # The first one was a mistake: removed, the others take its place
    mistake.get_by_role("button", name="Remove this new action").click()
    expect(very_high.locator("li.grid-action")).to_have_count(2)
    # The score first: Alt+ArrowUp in an action moves the action, not its row
    cell(action, "expression").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(very_high.locator("li.grid-action").first.locator("[name$='-target']")).to_have_value(
        "plan.score"
    )
    expect(rules.locator("tr.form-row").first).to_be_visible()
    expect(rules.locator("tr.form-row").first.locator("[name$='-name']")).to_have_value(
        "Very high potassium"
    )
    shots("second-row-moved-up")
    cell(action, "target").focus()
    page.keyboard.press("Enter")  # the form's default button: Save
    expect(page.locator("ul.messagelist")).to_contain_text(re.compile("was changed"))
    order = Rule.objects.filter(template=template).order_by("position")
    assert [(r.name, r.position) for r in order] == [
        ("Very high potassium", 1),
        ("High potassium", 2),
    ]
    very_high_rule = order[0]
    assert list(
        very_high_rule.actions.order_by("position").values_list("kind", "target", "expression")
    ) == [
        (ActionKind.SET_DATA_POINT, "plan.score", "9"),
        (ActionKind.SET_DATA_POINT, "plan.triage", '"red"'),
    ]
    open_from_home(page, "Decision tables", template.name)
    shots("second-row-actions")

    # The simulator: a high result fires the first row only, and says what would happen
    open_from_home(page, "Decision tables", template.name)
    page.get_by_role("link", name="Simulate").click()
    plans = page.get_by_label("Plan")
    expect(plans.locator("option")).to_have_text(["---------", str(plan)])
    plans.select_option(label=str(plan))
    page.get_by_label("Trigger").select_option(label="On integration event")
    page.get_by_label("Subject").select_option(label="labResult")
    page.get_by_label("Payload").fill('{"potassium": 6.1, "unit": "mmol/L"}')
    page.get_by_role("button", name="Simulate").click()
    result = page.locator("#simulation-result")
    first_row = page.locator("td", has_text=re.compile(r"^High potassium$"))
    expect(result.locator("tr", has=first_row).locator("td").nth(1)).to_have_text("yes")
    fired = result.locator("li", has_text="High potassium")
    expect(fired.first).to_have_text("High potassium: would assign form appointment to Patient")
    expect(fired.nth(1)).to_have_text('High potassium: would set plan.riskStatus to "high"')
    skipped = result.locator("tr", has_text="Very high potassium").locator("td")
    expect(skipped).to_have_text(
        ["Very high potassium", "no", "potassium is 6.1; the cell `>=6.5` does not hold"]
    )
    shots("simulation-fires")
    # ... and only simulates: the plan got no appointment form
    assert not plan.form_assignments.filter(definition__form__name="appointment").exists()

    # When the lab posts a very high result for the plan (the partner's side, not the page's)
    event = ingest(
        template.organization,
        "labResult",
        json.dumps({"planId": str(plan.pk), "potassium": 7.2}),
        InboundSource.REST,
    )
    evaluate_inbound_events([event.event_id])
    # Then, from the template's page, its evaluations explain what happened
    open_from_home(page, "Plan templates", template.name)
    page.locator(".field-related_links").get_by_role("link", name="evaluations").click()
    page.locator("#result_list tbody tr").first.locator("a").first.click()
    rows = page.locator(".field-row_table table")
    expect(rows.locator("tr", has_text="Very high potassium").locator("td")).to_have_text(
        ["Very high potassium", "yes", ""]
    )
    actions = page.locator(".field-action_table table")
    expect(actions).to_contain_text('ok: set plan.triage to "red"')
    expect(actions).to_contain_text("ok: set plan.score to 9")
    expect(page.locator(".field-inputs_display pre")).to_contain_text('"potassium": 7.2')
    shots("evaluation-explained")
    plan.refresh_from_db()
    assert (plan.custom_fields["triage"], plan.custom_fields["score"]) == ("red", 9)
    assert console_errors.take() == []
