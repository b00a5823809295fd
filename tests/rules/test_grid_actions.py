"""A row's actions edited in the decision table's grid (rules/admin/grid_actions.py): checked
as on the row's page with the error at the action's input, saved with their row (reordered,
added, removed, on a new row too), and only listed in words to a user who may not change them.
The hostile tenant's attempts are in tests/security/test_rule_actions_grid.py."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from healix.models import UserType
from rules.models import ActionKind, Rule, RuleAction
from tests.fixtures.domain import make_user
from tests.rules.test_admin import change_url, table_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, hrh_content_manager):
    client.force_login(hrh_content_manager)
    return client


def kinds_in_order(rule: Rule) -> list[str]:
    return list(rule.actions.order_by("position", "id").values_list("kind", flat=True))


def test_an_invalid_action_is_refused_at_its_input(editor, demo_rules):
    rule = demo_rules.rules.get()
    # When a third action, added in the grid, sets the number custom field score to text
    data = table_data(
        demo_rules,
        actions={
            0: {
                2: {
                    "position": 3,
                    "kind": ActionKind.SET_DATA_POINT,
                    "target": "plan.score",
                    "expression": '"high"',
                }
            }
        },
    )
    response = editor.post(change_url(demo_rules), data)
    # Then the table is not saved, and the error is the action's expression's
    assert response.status_code == 200
    row = response.context["inline_admin_formsets"][1].formset.forms[0]
    assert row.actions.errors[2] == {
        "expression": ["The expression gives text, but plan.score takes number."]
    }
    assert row.errors["actions"] == ["An action of this row has an error."]
    # ... shown in that action's expression input on the page, which still holds the text
    page = response.content.decode()
    shown = re.search(
        r'<div class="action-input field-expression errors">\s*<ul class="errorlist"[^>]*>'
        r"<li>([^<]*)</li></ul>\s*<label[^>]*>[^<]*</label><textarea name=\"([^\"]+)\"",
        page,
    )
    assert shown is not None
    assert shown.groups() == (
        "The expression gives text, but plan.score takes number.",
        "rules-0-actions-2-expression",
    )
    assert rule.actions.count() == 2
    # And an assign-form action without its form assignment is refused there too
    data = table_data(demo_rules, actions={0: {0: {"form_assignment": ""}}})
    response = editor.post(change_url(demo_rules), data)
    row = response.context["inline_admin_formsets"][1].formset.forms[0]
    assert row.actions.errors[0] == {"form_assignment": ["Choose the form assignment to give."]}


def test_reordered_actions_keep_their_new_order(editor, demo_rules):
    rule = demo_rules.rules.get()
    assert kinds_in_order(rule) == [ActionKind.ASSIGN_FORM, ActionKind.SET_DATA_POINT]
    # When the set-data-point action is moved above the form (the page renumbers 1, 2)
    data = table_data(demo_rules, actions={0: {0: {"position": 2}, 1: {"position": 1}}})
    response = editor.post(change_url(demo_rules), data)
    # Then the row's actions run in the new order, though nothing else of the row changed
    assert response.status_code == 302
    assert kinds_in_order(rule) == [ActionKind.SET_DATA_POINT, ActionKind.ASSIGN_FORM]
    # And the grid shows them in that order
    page = editor.get(change_url(demo_rules)).content.decode()
    selected = re.findall(
        r'name="rules-0-actions-\d-kind".*?<option value="(\w+)" selected', page, re.S
    )
    assert selected == [ActionKind.SET_DATA_POINT, ActionKind.ASSIGN_FORM]


def test_actions_are_added_and_removed_in_the_grid_even_on_a_new_row(
    editor, demo_rules, work_queue
):
    rule = demo_rules.rules.get()
    data = table_data(
        demo_rules,
        # The first row loses its form and gains a work queue item
        actions={
            0: {
                0: {"DELETE": "on"},
                2: {
                    "position": 3,
                    "kind": ActionKind.CREATE_WORK_QUEUE_ITEM,
                    "expression": '"Call the patient"',
                    "work_queue": work_queue.pk,
                    "status": "waiting",
                },
            },
            # A new row with two actions of its own
            1: {
                0: {
                    "position": 1,
                    "kind": ActionKind.SET_DATA_POINT,
                    "target": "plan.triage",
                    "expression": '"red"',
                },
                1: {
                    "position": 2,
                    "kind": ActionKind.SET_DATA_POINT,
                    "target": "plan.score",
                    "expression": "9",
                },
            },
        },
        rows={1: {"position": 2, "name": "Red", "enabled": "on", "trigger": "on_change"}},
    )
    response = editor.post(change_url(demo_rules), data)
    assert response.status_code == 302
    assert kinds_in_order(rule) == [
        ActionKind.SET_DATA_POINT,
        ActionKind.CREATE_WORK_QUEUE_ITEM,
    ]
    created = rule.actions.get(kind=ActionKind.CREATE_WORK_QUEUE_ITEM)
    assert (created.work_queue, created.status, created.organization) == (
        work_queue,
        "waiting",
        demo_rules.organization,
    )
    red = Rule.objects.get(template=demo_rules, name="Red")
    assert list(red.actions.order_by("position").values_list("target", "expression")) == [
        ("plan.triage", '"red"'),
        ("plan.score", "9"),
    ]
    assert {a.organization_id for a in red.actions.all()} == {demo_rules.organization_id}


def test_a_new_rows_invalid_action_keeps_the_row_unsaved(editor, demo_rules):
    data = table_data(
        demo_rules,
        rows={1: {"position": 2, "name": "Red", "enabled": "on", "trigger": "on_change"}},
        actions={
            1: {
                0: {
                    "position": 1,
                    "kind": ActionKind.SET_DATA_POINT,
                    "target": "plan.startDate",
                    "expression": "now()",
                }
            }
        },
    )
    response = editor.post(change_url(demo_rules), data)
    assert response.status_code == 200
    row = response.context["inline_admin_formsets"][1].formset.forms[1]
    assert row.actions.errors[0]["target"][0].startswith("`plan.startDate` is read only")
    assert not Rule.objects.filter(name="Red").exists()


def test_a_user_who_may_not_change_actions_reads_them_in_words(client, org, demo_rules):
    # Given a content manager of hrh who may change rows but only view actions
    user = make_user(org, "reader", UserType.ADMIN, is_staff=True)
    codenames = [
        "view_decisiontable",
        "change_decisiontable",
        "view_rule",
        "change_rule",
        "view_ruleaction",
        "view_rulecolumn",
        "change_rulecolumn",
    ]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    # When they open the table
    page = client.get(change_url(demo_rules)).content.decode()
    # Then the actions are listed in words, with no input
    assert "<li>Assign form appointment to Patient</li>" in page
    assert "-actions-" not in page
    # And a posted change to an action is ignored
    data = table_data(demo_rules, actions={0: {1: {"expression": '"hacked"'}}})
    response = client.post(change_url(demo_rules), data)
    assert response.status_code == 302
    assert RuleAction.objects.get(kind=ActionKind.SET_DATA_POINT).expression == '"scheduled"'


def test_the_rows_page_still_edits_its_actions(editor, demo_rules):
    rule = demo_rules.rules.get()
    page = editor.get(reverse("admin:rules_rule_change", args=[rule.pk])).content.decode()
    assert 'name="actions-0-kind"' in page
