"""A row's actions in the decision table's grid, as a hostile tenant would post them: another
organization's form assignment, work queue or action is refused at the action's input, and
nothing of either organization changes."""

import pytest

from dev.demo import create_demo_rules
from rules.models import ActionKind, RuleAction
from templates.models import FormAssignmentDefinition
from tests.rules.test_admin import change_url, table_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, hrh_content_manager):
    client.force_login(hrh_content_manager)
    return client


@pytest.fixture
def both_tables(template, other_template):
    create_demo_rules(template)
    create_demo_rules(other_template)
    return template, other_template


def post_refused(editor, template, actions) -> dict:
    """Post the table with `actions`; the errors of its first row's actions, by index."""
    before = sorted(RuleAction.objects.values_list("pk", "rule_id", "kind", "expression"))
    response = editor.post(change_url(template), table_data(template, actions={0: actions}))
    assert response.status_code == 200
    assert sorted(RuleAction.objects.values_list("pk", "rule_id", "kind", "expression")) == before
    row = response.context["inline_admin_formsets"][1].formset.forms[0]
    return dict(enumerate(row.actions.errors))


def test_another_organizations_form_assignment_is_refused(editor, both_tables):
    mine, theirs = both_tables
    # Their appointment form assignment, even marked "assigned by rule" like ours
    their_form = FormAssignmentDefinition.objects.get(template=theirs, form__name="appointment")
    assert their_form.assign_mode == "BY_RULE"
    # When hrh's content manager adds an action giving it, or points an existing one at it
    added = {2: {"position": 3, "kind": ActionKind.ASSIGN_FORM, "form_assignment": their_form.pk}}
    changed = {0: {"form_assignment": their_form.pk}}
    for actions, index in ((added, 2), (changed, 0)):
        errors = post_refused(editor, mine, actions)
        # Then it is not even a choice: refused at the action's form assignment
        assert errors[index]["form_assignment"][0].startswith("Select a valid choice.")


def test_another_organizations_work_queue_is_refused(editor, both_tables, other_work_queue):
    mine, _theirs = both_tables
    errors = post_refused(
        editor,
        mine,
        {
            2: {
                "position": 3,
                "kind": ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS,
                "work_queue": other_work_queue.pk,
                "status": "done",
            }
        },
    )
    assert errors[2]["work_queue"][0].startswith("Select a valid choice.")


def test_another_organizations_action_cannot_be_edited_or_removed_through_a_row(
    editor, both_tables
):
    mine, theirs = both_tables
    their_action = RuleAction.objects.get(rule__template=theirs, kind=ActionKind.SET_DATA_POINT)
    before = sorted(RuleAction.objects.values_list("pk", "rule_id", "position", "expression"))
    # When hrh's content manager posts their action's id in place of one of the row's saved
    # actions, changed, or ticked for removal
    for change in ({"expression": '"hacked"'}, {"DELETE": "on"}):
        data = table_data(mine, actions={0: {1: {"id": their_action.pk, **change}}})
        response = editor.post(change_url(mine), data)
        # Then the id is not one of the row's actions (the row's own queryset decides which
        # saved action a form is), so nothing is changed or removed, theirs nor ours
        assert response.status_code in (200, 302)
        after = sorted(RuleAction.objects.values_list("pk", "rule_id", "position", "expression"))
        assert after == before
    their_action.refresh_from_db()
    assert (their_action.expression, their_action.rule.template) == ('"scheduled"', theirs)
