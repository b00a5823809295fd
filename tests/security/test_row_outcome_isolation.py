"""Row outcomes (the audit trail's, stored once and named by id) stay in their organization:
two organizations with the same table share no record, and an evaluation naming another
organization's ids reads none of its outcomes."""

import pytest

from rules.models import RowOutcomeRecord, RuleEvaluation
from tests.rules.test_row_outcomes import evaluate, plans_at_risk, risk_table

pytestmark = pytest.mark.django_db


def test_given_two_organizations_with_the_same_table_then_each_has_its_own_outcomes(
    actor, template, patient, other_actor, other_template, other_patient
):
    # Given the same table, with the same names and cells, in both organizations
    risk_table(template)
    risk_table(other_template)
    mine = evaluate(template, plans_at_risk(actor, template, patient, "high"))[0]
    theirs = evaluate(
        other_template, plans_at_risk(other_actor, other_template, other_patient, "high")
    )[0]
    # Then each organization's evaluation names only its own organization's outcomes
    own = set(
        RowOutcomeRecord.objects.filter(organization=template.organization).values_list(
            "pk", flat=True
        )
    )
    other = set(
        RowOutcomeRecord.objects.filter(organization=other_template.organization).values_list(
            "pk", flat=True
        )
    )
    assert own and other and not own & other
    assert set(RuleEvaluation.objects.get(pk=mine.pk).rows) <= own
    assert set(RuleEvaluation.objects.get(pk=theirs.pk).rows) <= other


def test_given_an_evaluation_naming_another_organizations_outcomes_then_it_reads_none(
    actor, template, patient, other_actor, other_template, other_patient
):
    risk_table(template)
    risk_table(other_template)
    evaluate(template, plans_at_risk(actor, template, patient, "high"))
    theirs = evaluate(
        other_template, plans_at_risk(other_actor, other_template, other_patient, "low")
    )[0]
    # Given B's evaluation altered to name A's outcomes
    own = list(
        RowOutcomeRecord.objects.filter(organization=template.organization).values_list(
            "pk", flat=True
        )
    )
    RuleEvaluation.objects.filter(pk=theirs.pk).update(rows=own)
    # Then reading it shows none of A's outcomes, only that they are not found
    outcomes = RuleEvaluation.objects.get(pk=theirs.pk).row_outcomes()
    assert len(outcomes) == len(own)
    assert all(row["name"].endswith("not found)") and "rule" not in row for row in outcomes)
