"""The forms of the decision-table editor: a row with one input per value column, a value
column, an action. Each parses what it is given on save (rules.compiler's checks) and puts
the error at the input at fault."""

from typing import Any

from django import forms
from django.utils.functional import cached_property

from healix.admin.scoping import ParentOrganizationFormSet
from rules.compiler import (
    CompiledColumn,
    check_action,
    check_column,
    check_rule,
    compile_table,
    type_name,
)
from rules.models import ActionKind, Rule, RuleAction, RuleColumn, Trigger
from rules.references import ReferenceCatalog
from templates.models import PlanTemplate

__all__ = [
    "RULE_FIELDS",
    "RuleActionForm",
    "RuleActionFormSet",
    "RuleCellsForm",
    "RuleColumnForm",
    "add_check_errors",
    "cell_field",
    "compiled_columns",
    "describe_action",
    "rule_form_for",
]

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


# Which inputs each action kind reads (rules/action_compiler.py checks them): the editor shows
# only these for the kind chosen (rules/static/rules/decision_table.js hides the others).
ACTION_INPUTS = {
    ActionKind.ASSIGN_FORM: ("form_assignment",),
    ActionKind.SET_DATA_POINT: ("target", "expression"),
    ActionKind.CREATE_WORK_QUEUE_ITEM: ("expression", "work_queue", "status"),
    ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS: ("work_queue", "status"),
}
KIND_INPUTS = ("form_assignment", "target", "expression", "work_queue", "status")
# The same, input by input: the kinds that read it.
INPUT_KINDS = {
    name: tuple(kind for kind, inputs in ACTION_INPUTS.items() if name in inputs)
    for name in {name for inputs in ACTION_INPUTS.values() for name in inputs}
}
# The row settings only some triggers read, and the triggers that read each.
TRIGGER_INPUTS = {
    "subject": (Trigger.INTEGRATION,),
    "elapsed_reference": (Trigger.TIME_ELAPSED,),
    "elapsed_amount": (Trigger.TIME_ELAPSED,),
    "elapsed_unit": (Trigger.TIME_ELAPSED,),
}


def shown_for(form: forms.BaseForm, inputs: dict[str, tuple[str, ...]], attribute: str) -> None:
    """Mark each input with the choices that read it (data-kinds / data-triggers): `inputs`
    maps an input's name to those choices."""
    for name, needed_by in inputs.items():
        if name in form.fields:
            widget = form.fields[name].widget
            # The admin wraps a foreign key's select (RelatedFieldWidgetWrapper): mark the select.
            widget = getattr(widget, "widget", widget)
            widget.attrs[attribute] = " ".join(needed_by)


def describe_action(action: RuleAction) -> str:
    """One action in a few words, for the decision table's list of a row's actions."""
    if action.kind == ActionKind.ASSIGN_FORM and action.form_assignment is not None:
        definition = action.form_assignment
        return f"Assign form {definition.form} to {definition.role.name or definition.role}"
    if action.kind == ActionKind.SET_DATA_POINT:
        return f"Set {action.target} to {action.expression}"
    if action.kind == ActionKind.CREATE_WORK_QUEUE_ITEM:
        return f"Create an item in {action.work_queue}: {action.expression}"
    if action.kind == ActionKind.CHANGE_WORK_QUEUE_ITEM_STATUS:
        return f"Change the item in {action.work_queue} to {action.status}"
    return action.get_kind_display()


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

    # The decision table's grid sets this (rules/admin/grid_actions.py): the row's actions are
    # then a formset of this class, validated and saved with the row. The row's page leaves it
    # unset: there its actions are an inline of their own.
    actions_formset: type["RuleActionFormSet"] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        shown_for(self, TRIGGER_INPUTS, "data-triggers")
        cells = self.instance.cells if isinstance(self.instance.cells, dict) else {}
        for column in self.columns:
            name = cell_field(column.name)
            if name in self.fields:
                self.fields[name].initial = cells.get(column.name, "")

    @cached_property
    def actions(self) -> "RuleActionFormSet | None":
        """The row's actions (the grid only). Built on first use, after the rows' formset has
        given this row its template and organization."""
        if self.actions_formset is None:
            return None
        formset = self.actions_formset(
            data=self.data if self.is_bound else None,
            instance=self.instance,
            prefix=f"{self.prefix}-actions",
        )
        formset.catalog = self.catalog
        return formset

    def has_changed(self) -> bool:
        # A row whose only change is in its actions is still saved (and so are they).
        return super().has_changed() or (self.actions is not None and self.actions.has_changed())

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.actions is None:
            return
        if self.empty_permitted and not self.has_changed():
            return
        if not self.actions.is_valid():
            # Each error is shown at its action's input; this one makes the row (and the
            # page) count as not valid.
            self._errors["actions"] = self.error_class(["An action of this row has an error."])

    def save(self, commit: bool = True) -> Rule:
        rule = super().save(commit=commit)
        if self.actions is None:
            return rule
        if commit:
            self._save_actions(rule)
        else:
            save_m2m = self.save_m2m

            def save_m2m_and_actions() -> None:
                save_m2m()
                self._save_actions(rule)

            self.save_m2m = save_m2m_and_actions
        return rule

    def _save_actions(self, rule: Rule) -> None:
        self.actions.instance = rule  # a new row has its id only now
        self.actions.save()

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
            widget=forms.TextInput(
                attrs={"size": 12, "aria-label": f"{column.name} ({type_name(column.field_type)})"}
            ),
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

    # Set by RuleActionFormSet: the row (maybe not saved yet) and its template's catalog.
    parent_rule: Rule | None = None
    catalog: ReferenceCatalog | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        shown_for(self, INPUT_KINDS, "data-kinds")
        for name, label in (("position", "action order"), ("kind", "action kind")):
            if name in self.fields:
                self.fields[name].widget.attrs.setdefault("aria-label", label)

    def kind_inputs(self) -> list[forms.BoundField]:
        """The inputs some kinds read (all but order and kind), in the model's order."""
        return [self[name] for name in KIND_INPUTS if name in self.fields]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        rule = self.parent_rule
        if rule is None and self.instance.rule_id:
            rule = self.instance.rule
        if rule is None or rule.template_id is None or not cleaned.get("kind"):
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
        catalog = self.catalog or ReferenceCatalog(rule.template)
        try:
            check_action(catalog, probe)
        except ValueError as error:
            add_check_errors(self, error)
        return cleaned


class RuleActionFormSet(ParentOrganizationFormSet):
    """A row's actions: on the row's page (its inline) and in the decision table's grid (one
    per row). Each action is checked against the row's template as it is saved."""

    catalog: ReferenceCatalog | None = None
    can_add = True  # the grid's "Add an action" (the inline's own add permission)

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.parent_rule = self.instance
        form.catalog = self.catalog
        return form

    @property
    def placeholder_form(self) -> RuleActionForm:
        """A new action whose inputs are named `__actions__-<input>`: decision_table.js puts a
        row's prefix and the action's index in its place when it adds an action to a row."""
        form = self.empty_form
        form.prefix = "__actions__"
        return form
