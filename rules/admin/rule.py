"""A row's own page: its settings, its cells and its actions."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from healix.admin.scoping import OrganizationScopedAdmin, OrganizationScopedInline
from rules.admin.forms import (
    RULE_FIELDS,
    RuleActionForm,
    RuleActionFormSet,
    cell_field,
    compiled_columns,
    rule_form_for,
)
from rules.models import Rule, RuleAction
from templates.models import FormAssignmentDefinition

__all__ = ["RuleActionInline", "RuleAdmin", "limit_form_assignments"]


def limit_form_assignments(formset: type[RuleActionFormSet], template_id: int) -> None:
    """An action gives a form assignment of its own template: the only choices (and the only
    ids accepted) are those."""
    field = formset.form.base_fields.get("form_assignment")
    if field is not None:
        field.queryset = FormAssignmentDefinition.objects.filter(
            template_id=template_id
        ).select_related("form", "role")


class RuleActionInline(OrganizationScopedInline):
    """A row's actions on its page; the decision table's grid builds its formsets from this
    inline too (rules/admin/grid_actions.py), so both check and save them alike."""

    model = RuleAction
    form = RuleActionForm
    formset = RuleActionFormSet
    fields = ("position", "kind", "form_assignment", "target", "expression", "work_queue", "status")
    ordering = ("position", "id")
    template = "admin/rules/edit_inline/actions_list.html"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            limit_form_assignments(formset, obj.template_id)
        return formset


@admin.register(Rule)
class RuleAdmin(OrganizationScopedAdmin):
    """One row: its settings, its cells and its actions."""

    list_display = ("name", "template", "position", "enabled", "trigger", "evaluations_link")
    list_filter = ("organization", "template", "trigger", "enabled")
    list_select_related = ("template",)
    search_fields = ("name", "template__name")
    readonly_fields = ("template", "table_link", "evaluations_link")
    inlines = (RuleActionInline,)

    class Media:
        css = {"all": ("rules/decision_table.css",)}
        js = ("rules/decision_table.js",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are added in their decision table

    def get_fields(self, request, obj=None):
        columns = compiled_columns(obj.template)[1] if obj is not None else []
        return [
            "template",
            "table_link",
            *RULE_FIELDS,
            *(cell_field(c.name) for c in columns),
            "evaluations_link",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = rule_form_for(obj.template if obj is not None else None)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="decision table")
    def table_link(self, rule: Rule) -> str:
        url = reverse("admin:rules_decisiontable_change", args=[rule.template_id])
        return format_html('<a href="{}">The table of {}, all its rows</a>', url, rule.template)

    @admin.display(description="evaluations")
    def evaluations_link(self, rule: Rule) -> str:
        if rule.pk is None:
            return "-"
        url = reverse("admin:rules_ruleevaluation_changelist") + f"?rule={rule.pk}"
        return format_html('<a href="{}">Evaluations where it fired</a>', url)
