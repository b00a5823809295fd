"""Rule evaluations past their retention period (rules/retention.py): the audit trail goes,
except the record that keeps a time-elapsed row from firing twice for an open plan."""

from datetime import timedelta

import pytest
from django.utils import timezone

from healix import retention
from plans import services as plan_services
from rules import services
from rules.models import ActionKind, RuleEvaluation, Trigger
from tests.rules.test_services import action, overdue_after_three_days, rule

pytestmark = pytest.mark.django_db


def age_evaluations(days: float) -> None:
    RuleEvaluation.objects.update(evaluated_at=timezone.now() - timedelta(days=days))


def test_a_time_elapsed_row_does_not_fire_again_once_old_evaluations_are_pruned(
    actor, template, plan
):
    # Given a time-elapsed row that fired for the open plan 40 days ago
    overdue_after_three_days(template)
    due = plan.start_date + timedelta(days=3)
    assert services.evaluate_due_rules(now=due) == 1
    age_evaluations(40)
    # When evaluations older than 30 days are pruned
    retention.prune()
    # Then the record that it fired is kept, and the next tick does not fire it again
    assert RuleEvaluation.objects.count() == 1
    assert services.evaluate_due_rules(now=due + timedelta(days=40)) == 0
    # Once the plan is closed, the record goes like any other
    plan_services.update_plan(actor=actor, plan=plan, status="CLOSED")
    age_evaluations(40)
    assert retention.prune()["rule evaluations"] == 1
    assert not RuleEvaluation.objects.exists()


def test_old_evaluations_go_and_recent_ones_stay(actor, template, plan):
    row = rule(template, "Any change", trigger=Trigger.ON_CHANGE)
    action(row, ActionKind.SET_DATA_POINT, target="plan.riskStatus", expression='"low"')
    submission = plan_services.submit_form(
        actor=actor,
        assignment=plan.form_assignments.get(definition__form__name="intake", user=plan.user),
        data={"age": 1},
    )
    services.evaluate_submission(submission.pk)
    old = set(RuleEvaluation.objects.values_list("pk", flat=True))
    assert old
    age_evaluations(31)
    recent = RuleEvaluation.objects.create(
        organization=plan.organization, template=template, plan=plan, trigger=Trigger.ON_CHANGE
    )
    assert retention.prune()["rule evaluations"] == len(old)
    assert list(RuleEvaluation.objects.values_list("pk", flat=True)) == [recent.pk]
