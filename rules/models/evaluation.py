"""The audit trail: one record per evaluation of a plan's decision table (rules/audit.py
writes them, rules/retention.py prunes them), its rows' outcomes each stored once."""

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from healix.models import Organization, OrganizationOwned
from rules.models.table import Trigger
from templates.models import PlanTemplate, owned_constraints

__all__ = ["RowOutcomeRecord", "RuleEvaluation"]


class RowOutcomeRecord(models.Model):
    """One row's outcome as the audit trail keeps it, stored once per organization and named
    by its id in the `rows` of every evaluation that had it: a table's rows have a few
    outcomes each, repeated across hundreds of evaluations a second, and writing each whole
    was most of an evaluation's cost in PostgreSQL (docs/performance.md, "The rules'
    profile"). Never changed: a row edited or deleted later leaves its past outcomes as they
    were."""

    # The unique (organization, digest) serves the organization's lookups.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    digest = models.CharField(
        max_length=64,
        help_text="SHA-256 of the outcome's JSON text: the same outcome is stored once.",
    )
    outcome = models.JSONField(
        help_text=(
            'The row ("rule", "name"), whether it "fired", else the first "column" whose '
            '"cell" did not hold, or the "problem" that stopped it.'
        ),
    )

    class Meta:
        verbose_name = "row outcome"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "digest"], name="rowoutcomerecord_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome.get('name')}: {'fired' if self.outcome.get('fired') else 'not'}"


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
        help_text=(
            "Per row, the id of its outcome (RowOutcomeRecord): whether it fired, else the "
            "first cell that did not hold and why. Records written before 2026-12-05 hold the "
            "outcomes themselves. Read them with row_outcomes()."
        ),
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

    def row_outcomes(self) -> list[dict[str, Any]]:
        """Each row's outcome, in the table's order (one query; none for older records)."""
        ids = [row for row in self.rows if isinstance(row, int)]
        found = (
            dict(
                RowOutcomeRecord.objects.filter(
                    organization_id=self.organization_id, pk__in=ids
                ).values_list("pk", "outcome")
            )
            if ids
            else {}
        )
        return [
            (found.get(row) or {"name": f"(outcome {row} not found)", "fired": False})
            if isinstance(row, int)
            else row
            for row in self.rows
        ]
