"""The decision-table editor (a template's value columns and rows, in a grid) and its
simulator.

Each row shows one input per column, labelled with the column's type; a cell that does not
parse for that type, a reference that is not data of the template, or an expression of the
wrong type is refused on save next to the cell at fault. A row's actions are a compact list
in its line of the grid, edited there (rules/admin/grid_actions.py) with the checks of the
row's own page.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from healix.admin.json_forms import JSONObjectField
from healix.admin.scoping import OrganizationScopedAdmin, OrganizationScopedInline, scope_queryset
from plans.models import Plan
from rules.admin.forms import (
    RULE_FIELDS,
    RuleColumnForm,
    cell_field,
    compiled_columns,
    describe_action,
    rule_form_for,
)
from rules.admin.grid_actions import actions_editable, grid_actions_formset
from rules.models import DecisionTable, Rule, RuleColumn, Trigger
from rules.simulation import simulate
from templates.models import PlanTemplate

__all__ = ["DecisionTableAdmin", "SimulationForm"]


class RuleColumnInline(OrganizationScopedInline):
    model = RuleColumn
    form = RuleColumnForm
    fields = ("position", "name", "reference", "expression", "value_type")
    ordering = ("position", "id")
    verbose_name_plural = "value columns (save them before writing cells in their rows)"


class RuleRowInline(OrganizationScopedInline):
    model = Rule
    ordering = ("position", "id")
    show_change_link = True
    template = "admin/rules/edit_inline/rows_grid.html"
    verbose_name_plural = "rows (rules, in firing order, with their actions)"

    def get_fields(self, request, obj=None):
        columns = compiled_columns(obj)[1] if obj is not None else []
        cells = [cell_field(c.name) for c in columns]
        if self._edits_actions(request, obj):
            return [*RULE_FIELDS, *cells]
        return [*RULE_FIELDS, *cells, "action_summary"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self._edits_actions(request, obj) else ["action_summary"]

    def _edits_actions(self, request, obj) -> bool:
        """Each row's actions are edited in place, unless the user may only read the rows or
        the actions (then they are listed in words)."""
        return (
            obj is not None
            and self.has_change_permission(request, obj)
            and actions_editable(request, self.admin_site)
        )

    def get_formset(self, request, obj=None, **kwargs):
        form = rule_form_for(obj)
        if self._edits_actions(request, obj):
            actions = grid_actions_formset(request, self.admin_site, obj)
            form = type(form.__name__, (form,), {"actions_formset": actions})
        kwargs["form"] = form
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="actions")
    def action_summary(self, rule: Rule) -> str:
        if rule.pk is None:
            return "none yet"
        actions = rule.actions.select_related(
            "form_assignment__form", "form_assignment__role", "work_queue"
        )
        listed = format_html_join("", "<li>{}</li>", ((describe_action(a),) for a in actions))
        return format_html('<ul class="rule-action-list">{}</ul>', listed or "none yet")


@admin.register(DecisionTable)
class DecisionTableAdmin(OrganizationScopedAdmin):
    """One decision table per plan template (rows are created here, not on their own)."""

    list_display = ("name", "title", "organization", "row_count")
    list_filter = ("organization",)
    search_fields = ("name", "title")
    fields = ("name", "title")
    readonly_fields = ("name", "title")
    inlines = (RuleColumnInline, RuleRowInline)
    change_form_template = "admin/rules/decisiontable/change_form.html"

    class Media:
        css = {"all": ("rules/decision_table.css",)}
        js = ("rules/decision_table.js",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a table exists with its template

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="rows")
    def row_count(self, table: DecisionTable) -> int:
        return table.rules.count()

    def get_urls(self):
        return [
            path(
                "<path:object_id>/simulate/",
                self.admin_site.admin_view(self.simulate_view),
                name="rules_decisiontable_simulate",
            ),
            *super().get_urls(),
        ]

    def simulate_view(self, request: HttpRequest, object_id: str):
        table = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, table):
            raise PermissionDenied
        plans = scope_queryset(Plan.objects.filter(template=table), request)
        form = SimulationForm(request.POST or None, template=table, plans=plans)
        result = None
        if request.method == "POST" and form.is_valid():
            result = simulate(
                table,
                plan=form.cleaned_data["plan"],
                trigger=form.cleaned_data["trigger"],
                subject=form.cleaned_data["subject"],
                payload=form.cleaned_data["payload"],
                values=form.cleaned_data["values"],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": table,
            "title": f"Simulate the rules of {table.name}",
            "form": form,
            "result": result,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/rules/decisiontable/simulate.html", context)


class SimulationForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.none(),
        required=False,
        help_text="Evaluate against this plan's data (actions are run and then rolled back).",
    )
    trigger = forms.ChoiceField(choices=Trigger.choices)
    subject = forms.ChoiceField(required=False, help_text="On integration event: the subject.")
    payload = JSONObjectField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text='The integration payload, for example {"timeSlot": "2026-12-01T09:30"}.',
    )
    values = JSONObjectField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=(
            "Without a plan: the data by reference, for example "
            '{"plan.riskStatus": "high", "submission.intake.age": 70}.'
        ),
    )

    def __init__(self, *args, template: PlanTemplate, plans, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        subjects = template.integrations.values_list("subject", flat=True)
        self.fields["subject"].choices = [("", "(any)"), *((s, s) for s in subjects)]
