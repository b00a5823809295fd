"""The audit trail's row outcomes: each stored once per organization, named by id in every
evaluation's `rows`, read back in order, and never named before its transaction commits."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from plans import services as plan_services
from plans.models import Plan
from rules import services
from rules.models import RowOutcomeRecord, Rule, RuleColumn, RuleEvaluation, Trigger
from rules.sql import RECORD_ROW_OUTCOMES_SQL

HIGH = {"risk": "=high"}
NOT_HIGH = {"risk": "!=high"}


def risk_table(template) -> tuple[Rule, Rule]:
    RuleColumn.objects.create(template=template, name="risk", reference="plan.riskStatus")
    high = Rule.objects.create(template=template, name="High", cells=HIGH, position=0)
    other = Rule.objects.create(template=template, name="Other", cells=NOT_HIGH, position=1)
    return high, other


def plans_at_risk(actor, template, patient, *risks: str) -> list[Plan]:
    plans = []
    for risk in risks:
        plan = plan_services.assign_plan(actor=actor, template=template, user=patient)
        Plan.objects.filter(pk=plan.pk).update(risk_status=risk)
        plans.append(plan)
    return plans


def evaluate(template, plans) -> list[RuleEvaluation]:
    trigger = services.PlanTrigger(Trigger.ON_CHANGE, {"test": True})
    return services.evaluate_plans(template, plans, trigger)


def upserts(queries: CaptureQueriesContext) -> int:
    statement = " ".join(RECORD_ROW_OUTCOMES_SQL.split())[:40]
    return sum(" ".join(query["sql"].split()).startswith(statement) for query in queries)


@pytest.mark.django_db
def test_given_many_evaluations_when_recorded_then_each_outcome_is_stored_once_in_order(
    actor, template, patient
):
    high, other = risk_table(template)
    plans = plans_at_risk(actor, template, patient, "high", "low", "low")
    # When the three plans are evaluated, twice
    first = evaluate(template, plans)
    evaluate(template, plans)
    # Then four outcomes are stored (each row fired, or failed at its cell), once each
    assert RowOutcomeRecord.objects.filter(organization=template.organization).count() == 4
    # And each evaluation names its rows' outcomes by id, read back in the table's order
    low = next(evaluation for evaluation in first if evaluation.plan_id == plans[1].pk)
    stored = RuleEvaluation.objects.get(pk=low.pk)
    assert all(isinstance(row, int) for row in stored.rows)
    assert stored.row_outcomes() == [
        {"rule": high.pk, "name": "High", "fired": False, "column": "risk", "cell": "=high"},
        {"rule": other.pk, "name": "Other", "fired": True},
    ]
    # And a row edited later leaves the outcome recorded before as it was
    Rule.objects.filter(pk=high.pk).update(name="Very high", cells={"risk": "=very high"})
    assert stored.row_outcomes()[0]["cell"] == "=high"


@pytest.mark.django_db
def test_given_records_written_before_outcomes_were_stored_apart_then_they_read_as_they_are(
    actor, template, patient
):
    (plan,) = plans_at_risk(actor, template, patient, "high")
    whole = {"rule": 1, "name": "High", "fired": True}
    evaluation = RuleEvaluation.objects.create(
        organization=template.organization,
        template=template,
        plan=plan,
        trigger=Trigger.ON_CHANGE,
        rows=[whole],
    )
    assert evaluation.row_outcomes() == [whole]


@pytest.mark.django_db(transaction=True)
def test_given_an_evaluation_rolled_back_when_evaluated_again_then_no_id_names_nothing(
    actor, template, patient
):
    risk_table(template)
    plans = plans_at_risk(actor, template, patient, "high", "low")
    # Given an evaluation whose transaction rolls back, its outcomes stored with it
    with pytest.raises(RuntimeError), transaction.atomic():
        evaluate(template, plans)
        raise RuntimeError("rolled back")
    assert not RowOutcomeRecord.objects.exists()
    # When the plans are evaluated again, and committed
    with CaptureQueriesContext(connection) as queries:
        evaluation = evaluate(template, plans)[0]
    # Then the outcomes are stored again rather than named by ids that were rolled back
    assert upserts(queries) == 1
    outcomes = RuleEvaluation.objects.get(pk=evaluation.pk).row_outcomes()
    assert [row["name"] for row in outcomes] == ["High", "Other"]
    # And once committed, later evaluations name them without storing them again
    with CaptureQueriesContext(connection) as queries:
        evaluate(template, plans)
    assert upserts(queries) == 0
    assert RowOutcomeRecord.objects.count() == 4
