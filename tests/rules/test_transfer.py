"""The decision table travels in the template document; an import whose rules do not validate
is refused whole."""

import pytest

from dev.demo import create_demo_work_queue
from rules.models import Rule, RuleColumn
from templates.models import PlanTemplate
from templates.transfer import ImportProblem, TemplateImportError, export_template, import_template

pytestmark = pytest.mark.django_db


def test_the_seed_example_round_trips_into_another_organization(demo_rules, other_org):
    document = export_template(demo_rules)
    table = document["template"]["decisionTable"]
    assert table["columns"][0] == {
        "name": "timeSlot",
        "reference": "integration.aiEngineTimeSlot.timeSlot",
    }
    assert table["rules"][0]["actions"] == [
        {"kind": "assign_form", "form": "appointment", "role": "Patient"},
        {"kind": "set_data_point", "target": "plan.riskStatus", "expression": '"scheduled"'},
    ]
    copy = import_template(organization=other_org, document=document)
    assert export_template(copy) == document
    assert Rule.objects.get(template=copy).organization == other_org


def test_a_work_queue_action_names_the_importing_organizations_queue(demo_rules, other_org):
    document = export_template(demo_rules)
    document["template"]["decisionTable"]["rules"][0]["actions"].append(
        {"kind": "change_work_queue_item_status", "workQueue": "triage", "status": "done"}
    )
    with pytest.raises(TemplateImportError) as excinfo:
        import_template(organization=other_org, document=document)
    assert excinfo.value.problems == [
        ImportProblem(
            "/template/decisionTable/rules/0/actions/2/workQueue",
            "No work queue 'triage' in this organization (queues: none).",
        )
    ]
    create_demo_work_queue(other_org)
    copy = import_template(organization=other_org, document=document)
    assert copy.rules.get().actions.get(position=2).work_queue.organization == other_org


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda table: table["rules"][0]["cells"].update(riskStatus=">5"),
            ImportProblem(
                "/template/decisionTable/rules/0/cells/riskStatus",
                "`>` is not allowed for a text column; use one of =, !=, in, notIn, null "
                "(text column, character 1)",
            ),
        ),
        (
            lambda table: table["columns"].append({"name": "age", "reference": "plan.age"}),
            ImportProblem(
                "/template/decisionTable/columns/2/reference",
                "`plan.age` is not data of template sAI-ERComp; did you mean plan.triage, "
                "plan.title, plan.score?",
            ),
        ),
        (
            lambda table: table["rules"][0]["actions"][1].update(target="plan.score"),
            ImportProblem(
                "/template/decisionTable/rules/0",
                "action 1: expression: The expression gives text, but plan.score takes number.",
            ),
        ),
    ],
    ids=["cell", "reference", "expression type"],
)
def test_an_import_whose_rules_do_not_validate_is_refused_whole(
    demo_rules, other_org, change, problem
):
    document = export_template(demo_rules)
    change(document["template"]["decisionTable"])
    with pytest.raises(TemplateImportError) as excinfo:
        import_template(organization=other_org, document=document)
    assert excinfo.value.problems == [problem]
    # Nothing of the template was written
    assert not PlanTemplate.objects.filter(organization=other_org).exists()
    assert not RuleColumn.objects.filter(organization=other_org).exists()
