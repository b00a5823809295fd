"""The audit trail: one record per evaluation of a plan's decision table (rules/audit.py
writes them, rules/retention.py prunes them)."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from healix.models import Organization, OrganizationOwned
from rules.models.table import Trigger
from templates.models import PlanTemplate, owned_constraints

__all__ = ["RuleEvaluation"]


class RuleEvaluation(OrganizationOwned):
    """One evaluation of a template's decision table for one plan: the audit trail.

    Hundreds are written a second, and every index costs each of them: no index repeats the
    leading column of another (docs/performance.md, "The rules' profile")."""

    # The unique (organization, id) serves the organization's lookups.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    template = models.ForeignKey(
        PlanTemplate,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # ruleevaluation_plan_time (plan, -evaluated_at) serves the plan's lookups.
    plan = models.ForeignKey(
        "plans.Plan",
        on_delete=models.CASCADE,
        related_name="rule_evaluations",
        db_index=False,
    )
    trigger = models.CharField(
        max_length=20,
        choices=Trigger.choices,
    )
    trigger_detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="What set it off: the inbound event, the submission, the due date, the chain.",
    )
    trace_id = models.CharField(
        max_length=64,
        blank=True,
        verbose_name="traceId",
    )
    source_key = models.CharField(
        max_length=200,
        blank=True,
        help_text=(
            "What was evaluated once and never again: inbound:<event>, submission:<id>, "
            "time:<rule>:<due date>."
        ),
    )
    chain_depth = models.PositiveIntegerField(
        default=0,
        help_text="0 for an outside trigger; n for the n-th evaluation caused by rule actions.",
    )
    inputs = models.JSONField(
        default=dict,
        blank=True,
        help_text="The value of every column, by column name.",
    )
    rows = models.JSONField(
        default=list,
        blank=True,
        help_text="Per row: whether it fired, else the first cell that did not hold and why.",
    )
    actions = models.JSONField(
        default=list,
        blank=True,
        help_text="Each action run, in order, with its outcome.",
    )
    fired_rules = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text="Ids of the rows that fired.",
    )
    chain_stopped = models.BooleanField(
        default=False,
        help_text="The chain limit (HEALIX_RULES_CHAIN_LIMIT) stopped a further evaluation.",
    )
    evaluated_at = models.DateTimeField(
        auto_now_add=True,
    )

    same_organization_fields = ("template", "plan")

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        verbose_name = "rule evaluation"
        constraints = owned_constraints(
            models.CheckConstraint(
                condition=models.Q(trigger__in=Trigger.values),
                name="ruleevaluation_trigger_known",
            ),
            # An inbound event, a submission or a due date is evaluated once per plan, even
            # when a task runs twice (a worker lost after the commit).
            models.UniqueConstraint(
                fields=["plan", "source_key"],
                condition=models.Q(chain_depth=0) & ~models.Q(source_key=""),
                name="ruleevaluation_once_per_source",
            ),
        )
        indexes = [
            models.Index(fields=["plan", "-evaluated_at"], name="ruleevaluation_plan_time"),
            # A plain one: no LIKE twin (the admin's search is a substring match either way).
            models.Index(fields=["trace_id"], name="ruleevaluation_trace_id"),
            GinIndex(fields=["fired_rules"], name="ruleevaluation_fired_rules"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} for {self.plan}"
