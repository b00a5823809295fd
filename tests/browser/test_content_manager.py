"""A content manager, in a real browser: an integration with two fields on a plan template, a
rule on it (a shorthand cell, an assign-form action) with a cell error fixed on the way, and
the simulator's verdict."""

import json
import re

import pytest
from playwright.sync_api import expect

from integrations.models import IntegrationDefinition
from rules.models import ActionKind, Rule
from tests.browser.ui import add_inline_row, cell, log_in, open_from_home, save_and_continue

pytestmark = pytest.mark.browser

SAVED = re.compile(r"was changed successfully")


def test_content_manager_defines_an_integration_and_a_rule_then_simulates_it(
    page, shots, hrh_content_manager, template, plan, other_template, other_plan
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

    # Its action, on the row's own page: give the patient the appointment form
    rules = page.locator("#rules-group")
    rules.locator("tr", has=page.locator("input[value='High potassium']")).get_by_role(
        "link", name="Change"
    ).click()
    row = add_inline_row(page, "actions")
    cell(row, "kind").select_option(label="Assign form")
    cell(row, "form_assignment").select_option(label="appointment → Patient")
    shots("rule-action")
    save_and_continue(page)
    expect(page.locator("ul.messagelist")).to_contain_text(SAVED)
    assert [a.kind for a in rule.actions.all()] == [ActionKind.ASSIGN_FORM]

    # The simulator: a high result fires the row and would assign the form
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
    expect(result.locator("tr", has_text="High potassium").locator("td").nth(1)).to_have_text("yes")
    expect(result.locator("li", has_text="High potassium")).to_contain_text(
        "Assign form: appointment → Patient"
    )
    shots("simulation-fires")
    # ... and only simulates: the plan got no appointment form
    assert not plan.form_assignments.filter(definition__form__name="appointment").exists()

    # A normal result does not fire it, and says which cell did not hold
    page.get_by_label("Payload").fill('{"potassium": 4.2}')
    page.get_by_role("button", name="Simulate").click()
    skipped = page.locator("#simulation-result tr", has_text="High potassium").locator("td")
    expect(skipped).to_have_text(
        ["High potassium", "no", "potassium is 4.2; the cell `>=5.5` does not hold"]
    )
    shots("simulation-skips")
