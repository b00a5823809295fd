"""The decision-table editor, the row editor with its actions, the audit trail, the simulator.

The table editor (Decision tables) lists a template's value columns and its rows; each row
shows one input per column, labelled with the column's type, and a cell that does not parse
for that type, a reference that is not data of the template, or an expression of the wrong
type is refused on save next to the cell at fault. Django cannot nest inlines, so a row's
actions are edited on the row's own page (the row's change link).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from healix.admin.json_forms import JSONObjectField
from healix.admin.scoping import (
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    RecordAdmin,
    scope_queryset,
)
from plans.models import Plan
from rules.compiler import (
    CompiledColumn,
    check_action,
    check_column,
    check_rule,
    compile_table,
    type_name,
)
from rules.engine import row_reason
from rules.models import DecisionTable, Rule, RuleAction, RuleColumn, RuleEvaluation, Trigger
from rules.references import ReferenceCatalog
from rules.simulation import simulate
from templates.models import FormAssignmentDefinition, PlanTemplate

__all__ = ["DecisionTableAdmin", "RuleAdmin", "RuleEvaluationAdmin"]

RULE_FIELDS = (
    "position",
    "name",
    "enabled",
    "trigger",
    "subject",
    "elapsed_reference",
    "elapsed_amount",
    "elapsed_unit",
)


def cell_field(column_name: str) -> str:
    return f"cell_{column_name}"


def compiled_columns(template: PlanTemplate) -> tuple[ReferenceCatalog, list[CompiledColumn]]:
    """The template's saved columns with their types; a broken column gets type "broken"."""
    table = compile_table(template, rules=[])
    return table.catalog, table.columns


def add_check_errors(form: forms.BaseForm, error: ValueError) -> None:
    """The compiler's checks raise ValueError({field: message}): each at its field."""
    (messages,) = error.args
    for field_name, message in messages.items():
        form.add_error(field_name if field_name in form.fields else None, message)


class RuleCellsForm(forms.ModelForm):
    """A row with one text input per value column; `columns` is set per template."""

    columns: list[CompiledColumn] = []
    catalog: ReferenceCatalog | None = None

    class Meta:
        model = Rule
        fields = RULE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cells = self.instance.cells if isinstance(self.instance.cells, dict) else {}
        for column in self.columns:
            name = cell_field(column.name)
            if name in self.fields:
                self.fields[name].initial = cells.get(column.name, "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cells = {
            column.name: (cleaned.get(cell_field(column.name)) or "").strip()
            for column in self.columns
        }
        self.instance.cells = {name: text for name, text in cells.items() if text}
        probe = Rule(
            template_id=self.instance.template_id,
            organization_id=self.instance.organization_id,
            cells=cells,
            **{name: cleaned.get(name) for name in RULE_FIELDS if name in cleaned},
        )
        for name in ("subject", "elapsed_reference", "elapsed_unit"):
            setattr(probe, name, getattr(probe, name) or "")
        if self.catalog is None or self.instance.template_id is None:
            return cleaned
        good = [column for column in self.columns if column.field_type != "broken"]
        _compiled, errors = check_rule(self.catalog, good, probe)
        for key, message in errors.items():
            if key.startswith("cell:") and cell_field(key[5:]) in self.fields:
                self.add_error(cell_field(key[5:]), message)
            elif key in self.fields:
                self.add_error(key, message)
            else:
                self.add_error(None, message)
        return cleaned


def rule_form_for(template: PlanTemplate | None) -> type[RuleCellsForm]:
    """A RuleCellsForm class with the cell inputs of `template`'s columns."""
    if template is None:
        return RuleCellsForm
    catalog, columns = compiled_columns(template)
    declared: dict[str, Any] = {"columns": columns, "catalog": catalog}
    for column in columns:
        declared[cell_field(column.name)] = forms.CharField(
            required=False,
            max_length=1000,
            # capfirst keeps the column's name as is
            label=f"column {column.name} ({type_name(column.field_type)})",
            help_text=column.reference or "calculated",
            widget=forms.TextInput(attrs={"size": 12}),
        )
    return type("RuleCellsForm", (RuleCellsForm,), declared)


class RuleColumnForm(forms.ModelForm):
    class Meta:
        model = RuleColumn
        fields = ("position", "name", "reference", "expression", "value_type")
        widgets = {"expression": forms.Textarea(attrs={"rows": 1, "cols": 40})}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        template_id = self.instance.template_id
        if template_id is None:
            return cleaned
        probe = RuleColumn(
            template_id=template_id,
            name=cleaned.get("name") or "",
            reference=(cleaned.get("reference") or "").strip(),
            expression=cleaned.get("expression") or "",
            value_type=cleaned.get("value_type") or "",
        )
        self.instance.reference = probe.reference
        try:
            check_column(ReferenceCatalog(PlanTemplate.objects.get(pk=template_id)), probe)
        except ValueError as error:
            add_check_errors(self, error)
        return cleaned


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
    verbose_name_plural = "rows (rules, in firing order; edit a row's actions on its page)"

    def get_fields(self, request, obj=None):
        columns = compiled_columns(obj)[1] if obj is not None else []
        return [*RULE_FIELDS, *(cell_field(c.name) for c in columns), "action_summary"]

    def get_readonly_fields(self, request, obj=None):
        return ["action_summary"]

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = rule_form_for(obj)
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="actions")
    def action_summary(self, rule: Rule) -> str:
        if rule.pk is None:
            return "Save first, then add actions on the row's page"
        actions = [str(action) for action in rule.actions.all()]
        return "; ".join(actions) or "none yet"


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


class RuleActionForm(forms.ModelForm):
    class Meta:
        model = RuleAction
        fields = (
            "position",
            "kind",
            "form_assignment",
            "target",
            "expression",
            "work_queue",
            "status",
        )
        widgets = {"expression": forms.Textarea(attrs={"rows": 1, "cols": 40})}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        rule = getattr(self.instance, "rule", None) if self.instance.rule_id else None
        if rule is None or not cleaned.get("kind"):
            return cleaned
        probe = RuleAction(
            rule=rule,
            kind=cleaned["kind"],
            position=cleaned.get("position") or 0,
            form_assignment=cleaned.get("form_assignment"),
            target=(cleaned.get("target") or "").strip(),
            expression=cleaned.get("expression") or "",
            work_queue=cleaned.get("work_queue"),
            status=(cleaned.get("status") or "").strip(),
        )
        try:
            check_action(ReferenceCatalog(rule.template), probe)
        except ValueError as error:
            add_check_errors(self, error)
        return cleaned


class RuleActionInline(OrganizationScopedInline):
    model = RuleAction
    form = RuleActionForm
    fields = ("position", "kind", "form_assignment", "target", "expression", "work_queue", "status")
    ordering = ("position", "id")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("form_assignment")
        if field is not None and obj is not None:
            field.queryset = FormAssignmentDefinition.objects.filter(
                template_id=obj.template_id
            ).select_related("form", "role")
        return formset


@admin.register(Rule)
class RuleAdmin(OrganizationScopedAdmin):
    """One row: its settings, its cells and its actions."""

    list_display = ("name", "template", "position", "enabled", "trigger", "evaluations_link")
    list_filter = ("organization", "template", "trigger", "enabled")
    list_select_related = ("template",)
    search_fields = ("name", "template__name")
    readonly_fields = ("template", "evaluations_link")
    inlines = (RuleActionInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are added in their decision table

    def get_fields(self, request, obj=None):
        columns = compiled_columns(obj.template)[1] if obj is not None else []
        return [
            "template",
            *RULE_FIELDS,
            *(cell_field(c.name) for c in columns),
            "evaluations_link",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = rule_form_for(obj.template if obj is not None else None)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="evaluations")
    def evaluations_link(self, rule: Rule) -> str:
        if rule.pk is None:
            return "-"
        url = reverse("admin:rules_ruleevaluation_changelist") + f"?rule={rule.pk}"
        return format_html('<a href="{}">Evaluations where it fired</a>', url)


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
        return [(value, f"plan {value}")] if value else []

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

    list_display = (
        "evaluated_at",
        "plan_link",
        "template",
        "trigger",
        "fired_count",
        "chain_depth",
        "chain_stopped",
        "trace_id",
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
        "trigger_detail",
        "source_key",
        "trace_id",
        "chain_depth",
        "chain_stopped",
        "evaluated_at",
        "inputs",
        "row_table",
        "action_table",
    )
    readonly_fields = fields

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
                    for row in evaluation.rows
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
