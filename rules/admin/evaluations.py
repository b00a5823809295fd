"""The audit trail: every evaluation, per plan and per fired rule, explained."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from healix.admin.display import short_time
from healix.admin.json_forms import json_block
from healix.admin.scoping import RecordAdmin, scope_queryset
from plans.models import Plan
from rules.engine import row_reason
from rules.models import Rule, RuleEvaluation

__all__ = ["RuleEvaluationAdmin"]


class FiredRuleFilter(admin.SimpleListFilter):
    title = "fired rule"
    parameter_name = "rule"

    def lookups(self, request, model_admin):
        rules = scope_queryset(Rule.objects.select_related("template"), request)
        return [(str(rule.pk), f"{rule.template.name}: {rule.name}") for rule in rules[:200]]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(fired_rules__contains=[int(value)])
        return queryset


class PlanFilter(admin.SimpleListFilter):
    """?plan=<id>: one plan's evaluations (linked from elsewhere; no list of every plan)."""

    title = "plan"
    parameter_name = "plan"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value:
            return []
        try:  # the plan by its title, not its id; a malformed id is shown as given
            plan = scope_queryset(Plan.objects.filter(pk=value), request).first()
        except (ValueError, ValidationError):
            plan = None
        return [(value, str(plan) if plan is not None else f"plan {value}")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(plan_id=value)
        except Exception:  # a malformed id matches nothing rather than failing
            return queryset.none()


@admin.register(RuleEvaluation)
class RuleEvaluationAdmin(RecordAdmin):
    """The audit trail: every evaluation, per plan (?plan=<id>) and per rule (fired rule)."""

    # The trace id and the chain depth are on each evaluation's page (and the trace id is
    # searchable): in the list they pushed the last columns out of a 1366 px window.
    list_display = (
        "evaluated",
        "plan_link",
        "template",
        "trigger",
        "fired_count",
        "chain_stopped",
        "organization",
    )
    list_filter = (
        PlanFilter,
        FiredRuleFilter,
        "organization",
        "template",
        "trigger",
        "chain_stopped",
    )
    list_select_related = ("template", "plan")
    search_fields = ("trace_id", "source_key")
    fields = (
        "organization",
        "template",
        "plan",
        "trigger",
        "trigger_detail_display",
        "source_key",
        "trace_id",
        "chain_depth",
        "chain_stopped",
        "evaluated_at",
        "inputs_display",
        "row_table",
        "action_table",
    )
    readonly_fields = fields

    @admin.display(description="evaluated at", ordering="evaluated_at")
    def evaluated(self, evaluation: RuleEvaluation) -> str:
        return short_time(evaluation.evaluated_at)

    @admin.display(description="inputs")
    def inputs_display(self, evaluation: RuleEvaluation) -> str:
        return json_block(evaluation.inputs)

    @admin.display(description="trigger detail")
    def trigger_detail_display(self, evaluation: RuleEvaluation) -> str:
        return json_block(evaluation.trigger_detail)

    @admin.display(description="plan")
    def plan_link(self, evaluation: RuleEvaluation) -> str:
        url = reverse("admin:rules_ruleevaluation_changelist") + f"?plan={evaluation.plan_id}"
        return format_html('<a href="{}">{}</a>', url, evaluation.plan)

    @admin.display(description="fired")
    def fired_count(self, evaluation: RuleEvaluation) -> str:
        return f"{len(evaluation.fired_rules)} of {len(evaluation.rows)}"

    @admin.display(description="rows")
    def row_table(self, evaluation: RuleEvaluation) -> str:
        return format_html(
            "<table><tr><th>row</th><th>fired</th><th>why not</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        row.get("name"),
                        "yes" if row.get("fired") else "no",
                        row_reason(row, evaluation.inputs),
                    )
                    for row in evaluation.row_outcomes()
                ),
            ),
        )

    @admin.display(description="actions")
    def action_table(self, evaluation: RuleEvaluation) -> str:
        return format_html(
            "<table><tr><th>row</th><th>action</th><th>outcome</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}: {}</td></tr>",
                (
                    (
                        a.get("ruleName"),
                        a.get("action"),
                        "ok" if a.get("ok") else "failed",
                        a.get("detail"),
                    )
                    for a in evaluation.actions
                ),
            ),
        )
