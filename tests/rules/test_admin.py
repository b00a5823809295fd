"""The decision-table editor (errors at the cell, with the column's type), the row editor with
its actions, the audit trail per plan and per rule, and the simulator (which changes nothing)."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from plans.models import FormAssignment
from rules import services
from rules.models import ActionKind, Rule, RuleEvaluation
from tests.rules.test_services import accepted_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, hrh_content_manager):
    client.force_login(hrh_content_manager)
    return client


ACTION_FIELDS = (
    "position",
    "kind",
    "form_assignment",
    "target",
    "expression",
    "work_queue",
    "status",
)


def actions_data(prefix: str, saved: list, extra: dict) -> dict:
    """The POST of one row's actions in the grid (`prefix`: rules-<n>-actions): the saved ones,
    with `extra` overriding fields by index (an index past them adds an action)."""
    count = max([len(saved), *(index + 1 for index in extra)])
    data = {
        f"{prefix}-TOTAL_FORMS": str(count),
        f"{prefix}-INITIAL_FORMS": str(len(saved)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index in range(count):
        values = {}
        if index < len(saved):
            action = saved[index]
            values = {"id": action.pk}
            for name in ACTION_FIELDS:
                value = getattr(
                    action, f"{name}_id" if name in ("form_assignment", "work_queue") else name
                )
                values[name] = "" if value is None else value
        values.update(extra.get(index, {}))
        data.update({f"{prefix}-{index}-{name}": value for name, value in values.items()})
    return data


def table_data(template, rows=None, columns=None, actions=None) -> dict:
    """The POST of the table editor: its columns and rows as saved, with `rows`/`columns`
    overriding fields by index, and `actions` a row's actions ({row: {action: fields}})."""
    data = {}
    actions = actions or {}
    saved_columns = list(template.rule_columns.order_by("position", "id"))
    saved_rules = list(template.rules.order_by("position", "id"))
    for prefix, saved, extra, fields in (
        (
            "rule_columns",
            saved_columns,
            columns or {},
            ("position", "name", "reference", "expression", "value_type"),
        ),
        (
            "rules",
            saved_rules,
            rows or {},
            (
                "position",
                "name",
                "enabled",
                "trigger",
                "subject",
                "elapsed_reference",
                "elapsed_amount",
                "elapsed_unit",
            ),
        ),
    ):
        count = max([len(saved), *(index + 1 for index in extra)])
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(count),
                f"{prefix}-INITIAL_FORMS": str(len(saved)),
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        for index in range(count):
            values = {}
            if index < len(saved):
                row = saved[index]
                values = {"id": row.pk, "template": template.pk}
                for name in fields:
                    value = getattr(row, name)
                    values[name] = "" if value is None else value
                if prefix == "rules":
                    for column in saved_columns:
                        values[f"cell_{column.name}"] = row.cells.get(column.name, "")
                    if not row.enabled:
                        del values["enabled"]
            else:
                values = {"template": template.pk}
            values.update(extra.get(index, {}))
            for name, value in values.items():
                data[f"{prefix}-{index}-{name}"] = value
            if prefix == "rules":
                saved_actions = (
                    list(saved[index].actions.order_by("position", "id"))
                    if index < len(saved)
                    else []
                )
                data.update(
                    actions_data(f"rules-{index}-actions", saved_actions, actions.get(index, {}))
                )
    return data


def change_url(template) -> str:
    return reverse("admin:rules_decisiontable_change", args=[template.pk])


def test_the_table_editor_shows_one_typed_input_per_column(editor, demo_rules):
    response = editor.get(change_url(demo_rules))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="rules-0-cell_timeSlot"' in body
    # The grid's column heads say each column's type, and each cell input says it again to
    # a screen reader
    assert (
        '<th class="rule-grid-cell" scope="col" title="plan.riskStatus">riskStatus (text)</th>'
        in body
    )
    assert 'aria-label="riskStatus (text)"' in body
    # A row's actions are inputs in its line, each saying which kinds read it, and its
    # trigger's own settings say which trigger reads them
    assert 'name="rules-0-actions-0-kind"' in body
    assert 'data-kinds="assign_form"' in body
    assert 'data-triggers="integration"' in body
    assert 'id="simulate-link"' in body


def test_a_cell_that_does_not_parse_is_refused_at_the_cell_with_the_column_type(editor, demo_rules):
    # Given a number column on the intake age
    data = table_data(
        demo_rules,
        columns={2: {"position": 2, "name": "age", "reference": "submission.intake.age"}},
    )
    response = editor.post(change_url(demo_rules), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    # When a row's age cell is not a number
    response = editor.post(
        change_url(demo_rules), table_data(demo_rules, rows={0: {"cell_age": ">=ten"}})
    )
    # Then the save is refused, with the error at that cell naming the number column
    assert response.status_code == 200
    rows = response.context["inline_admin_formsets"][1].formset
    assert rows.errors[0]["cell_age"] == ["`ten` is not a number (number column, character 3)"]
    # And a cell that parses is saved under the column's name
    response = editor.post(
        change_url(demo_rules), table_data(demo_rules, rows={0: {"cell_age": ">=18"}})
    )
    assert response.status_code == 302
    assert Rule.objects.get().cells == {"riskStatus": "!=scheduled", "age": ">=18"}


def test_an_unknown_reference_and_a_wrongly_typed_calculation_are_refused(editor, demo_rules):
    response = editor.post(
        change_url(demo_rules),
        table_data(
            demo_rules,
            columns={2: {"position": 2, "name": "bad", "reference": "submission.intake.weight"}},
        ),
    )
    columns = response.context["inline_admin_formsets"][0].formset
    assert columns.errors[2]["reference"] == [
        "`submission.intake.weight` is not data of template sAI-ERComp; did you mean "
        "submission.intake.age, submission.intake.notes, submission.intake.symptoms?"
    ]
    response = editor.post(
        change_url(demo_rules),
        table_data(
            demo_rules,
            columns={
                2: {"position": 2, "name": "days", "expression": '"soon"', "value_type": "number"}
            },
        ),
    )
    columns = response.context["inline_admin_formsets"][0].formset
    assert columns.errors[2]["expression"] == [
        "The expression gives text, not number (the column's type)."
    ]
    # A calculation with a syntax error is refused with its line and column
    response = editor.post(
        change_url(demo_rules),
        table_data(
            demo_rules,
            columns={
                2: {"position": 2, "name": "days", "expression": "1 +", "value_type": "number"}
            },
        ),
    )
    columns = response.context["inline_admin_formsets"][0].formset
    assert "line 1, column" in columns.errors[2]["expression"][0]


def test_an_action_of_the_wrong_type_is_refused_on_the_row_page(editor, demo_rules):
    rule = Rule.objects.get()
    url = reverse("admin:rules_rule_change", args=[rule.pk])
    actions = list(rule.actions.order_by("position"))
    data = {
        "position": 0,
        "name": rule.name,
        "enabled": "on",
        "trigger": rule.trigger,
        "subject": rule.subject,
        "elapsed_reference": "",
        "elapsed_amount": "",
        "elapsed_unit": "",
        "cell_timeSlot": "",
        "cell_riskStatus": "!=scheduled",
        "actions-TOTAL_FORMS": "3",
        "actions-INITIAL_FORMS": "2",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
    }
    for index, action in enumerate(actions):
        data.update(
            {
                f"actions-{index}-id": action.pk,
                f"actions-{index}-rule": rule.pk,
                f"actions-{index}-position": action.position,
                f"actions-{index}-kind": action.kind,
                f"actions-{index}-form_assignment": action.form_assignment_id or "",
                f"actions-{index}-target": action.target,
                f"actions-{index}-expression": action.expression,
                f"actions-{index}-work_queue": "",
                f"actions-{index}-status": "",
            }
        )
    # When a third action sets the number custom field score to text
    data.update(
        {
            "actions-2-rule": rule.pk,
            "actions-2-position": 2,
            "actions-2-kind": ActionKind.SET_DATA_POINT,
            "actions-2-target": "plan.score",
            "actions-2-expression": '"high"',
        }
    )
    response = editor.post(url, data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[2]["expression"] == [
        "The expression gives text, but plan.score takes number."
    ]
    # And a read-only target is refused too
    data["actions-2-target"] = "plan.startDate"
    response = editor.post(url, data)
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[2]["target"][0].startswith("`plan.startDate` is read only")
    # And a number is accepted
    data.update({"actions-2-target": "plan.score", "actions-2-expression": "power(2, 3)"})
    assert editor.post(url, data).status_code == 302
    assert rule.actions.count() == 3


def test_another_organizations_table_is_not_found(editor, other_template):
    assert editor.get(change_url(other_template)).status_code == 404
    url = reverse("admin:rules_decisiontable_simulate", args=[other_template.pk])
    assert editor.get(url).status_code == 404


def test_the_simulator_shows_what_would_happen_and_changes_nothing(editor, demo_rules, plan):
    url = reverse("admin:rules_decisiontable_simulate", args=[demo_rules.pk])
    outbox_before = OutboxEvent.objects.count()
    response = editor.post(
        url,
        {
            "plan": plan.pk,
            "trigger": "integration",
            "subject": "aiEngineTimeSlot",
            "payload": '{"timeSlot": "2026-12-01T09:30"}',
            "values": "",
        },
    )
    assert response.status_code == 200
    (evaluation,) = response.context["result"]
    assert evaluation.inputs["timeSlot"] == "2026-12-01T09:30"
    assert [row["fired"] for row in evaluation.rows] == [True]
    assert [action["ok"] for action in evaluation.actions] == [True, True]
    # And the page says what would happen in words and JSON: no id of an assignment that was
    # rolled back, no Python dict
    page = response.content.decode()
    assert "would assign form appointment to Patient, prefilled with {&quot;slot&quot;: " in page
    assert "would set plan.riskStatus to &quot;scheduled&quot;" in page
    assert "form assignment " not in page and "{&#x27;" not in page
    # Nothing stayed: no form assignment, no risk status, no record, no event
    assert not FormAssignment.objects.filter(definition__form__name="appointment").exists()
    plan.refresh_from_db()
    assert plan.risk_status == ""
    assert RuleEvaluation.objects.count() == 0
    assert OutboxEvent.objects.count() == outbox_before


def test_the_simulator_evaluates_entered_values_without_a_plan(editor, demo_rules):
    url = reverse("admin:rules_decisiontable_simulate", args=[demo_rules.pk])
    response = editor.post(
        url,
        {
            "trigger": "integration",
            "subject": "aiEngineTimeSlot",
            "payload": "",
            "values": '{"plan.riskStatus": "scheduled"}',
        },
    )
    (evaluation,) = response.context["result"]
    assert evaluation.rows[0]["fired"] is False
    assert evaluation.rows[0]["reason"] == (
        "riskStatus is “scheduled”; the cell `!=scheduled` does not hold"
    )
    response = editor.post(url, {"trigger": "integration", "values": "[1]"})
    assert response.context["form"].errors["values"] == ["Give a JSON object, {...}."]


def test_the_audit_trail_per_plan_and_per_rule(editor, demo_rules, plan, other_plan):
    event = accepted_event(plan, {"timeSlot": "09:30"})
    services.evaluate_inbound_events([event.pk])
    evaluation = RuleEvaluation.objects.get()
    changelist = reverse("admin:rules_ruleevaluation_changelist")
    response = editor.get(changelist, {"plan": str(plan.pk)})
    assert list(response.context["cl"].result_list) == [evaluation]
    response = editor.get(changelist, {"rule": str(Rule.objects.get().pk)})
    assert list(response.context["cl"].result_list) == [evaluation]
    detail = editor.get(reverse("admin:rules_ruleevaluation_change", args=[evaluation.pk]))
    assert "Offer the appointment" in detail.content.decode()


def test_the_simulator_refuses_another_organizations_plan(editor, demo_rules, other_plan):
    url = reverse("admin:rules_decisiontable_simulate", args=[demo_rules.pk])
    response = editor.post(url, {"plan": other_plan.pk, "trigger": "integration"})
    assert response.status_code == 200
    assert response.context["result"] is None
    assert "plan" in response.context["form"].errors


def test_an_action_may_only_give_a_form_assigned_by_rule(editor, demo_rules, other_work_queue):
    rule = Rule.objects.get()
    url = reverse("admin:rules_rule_change", args=[rule.pk])
    at_once = demo_rules.form_assignment_definitions.get(assign_mode="AT_ONCE")
    data = {
        "position": 0, "name": rule.name, "enabled": "on", "trigger": rule.trigger,
        "subject": rule.subject, "elapsed_reference": "", "elapsed_amount": "",
        "elapsed_unit": "", "cell_timeSlot": "", "cell_riskStatus": "!=scheduled",
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0", "actions-MAX_NUM_FORMS": "1000",
        "actions-0-rule": rule.pk, "actions-0-position": 5,
        "actions-0-kind": ActionKind.ASSIGN_FORM, "actions-0-form_assignment": at_once.pk,
    }  # fmt: skip
    response = editor.post(url, data)
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[0]["form_assignment"] == [
        "Choose a form assignment marked “assigned by rule”."
    ]
    # And another organization's work queue is not even a choice
    data.update({
        "actions-0-kind": ActionKind.CREATE_WORK_QUEUE_ITEM, "actions-0-form_assignment": "",
        "actions-0-work_queue": other_work_queue.pk, "actions-0-expression": '"x"',
    })  # fmt: skip
    response = editor.post(url, data)
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.errors[0]["work_queue"][0].startswith("Select a valid choice.")


def test_renaming_a_column_keeps_its_cells_and_deleting_it_drops_them(editor, demo_rules):
    column = demo_rules.rule_columns.get(name="riskStatus")
    column.name = "risk"
    column.save()
    assert Rule.objects.get().cells == {"risk": "!=scheduled"}
    column.delete()
    assert Rule.objects.get().cells == {}
    # And the table still saves (no cell is left without its column)
    assert editor.post(change_url(demo_rules), table_data(demo_rules)).status_code == 302


def test_a_plans_page_links_to_its_rule_evaluations(client, hrh_administrator, demo_rules, plan):
    client.force_login(hrh_administrator)
    page = client.get(reverse("admin:plans_plan_change", args=[plan.pk])).content.decode()
    assert f"/admin/rules/ruleevaluation/?plan={plan.pk}" in page


def test_a_rule_page_links_to_its_table_and_its_evaluations(editor, demo_rules):
    rule = demo_rules.rules.get()
    page = editor.get(reverse("admin:rules_rule_change", args=[rule.pk])).content.decode()
    assert reverse("admin:rules_decisiontable_change", args=[demo_rules.pk]) in page
    evaluations = reverse("admin:rules_ruleevaluation_changelist") + f"?rule={rule.pk}"
    assert evaluations in page
    # And its actions list only the inputs their kind reads, marked for the page's script
    assert 'data-kinds="set_data_point"' in page  # the target
    assert 'data-kinds="assign_form"' in page  # the form assignment
