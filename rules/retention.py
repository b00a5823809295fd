"""How long rule evaluations (the audit trail) are kept (healix/retention.py)."""

from django.db.models import Q

from healix.retention import DAYS, Kind, register
from plans.models import PlanStatus
from rules.models import RuleEvaluation

# What keeps a time-elapsed row from firing twice for a plan and due date is its evaluation
# (rules/services.py evaluate_due_rules): kept while the plan is open.
TIME_GUARD = Q(chain_depth=0, source_key__startswith="time:", plan__status=PlanStatus.OPEN)

register(
    Kind(
        "rule evaluations",
        RuleEvaluation,
        "HEALIX_RETENTION_EVALUATION_DAYS",
        DAYS,
        # Ids follow time, so the primary key reads the oldest first.
        lambda cutoff: (
            RuleEvaluation.objects.filter(evaluated_at__lt=cutoff)
            .exclude(TIME_GUARD)
            .order_by("pk")
        ),
    ),
)
