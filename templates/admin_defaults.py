"""A form assignment's own page: its default calculations edited as expressions, one input per
field of its form, each checked on save as a rule's cells are (the expression parses, names data
of the template, and gives the field's type), the error shown at the field.

The template editor lists each form assignment with its calculations in words and links here.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from healix.admin.scoping import OrganizationScopedAdmin
from rules.expression_checks import compile_checked, expression_fits, type_name
from rules.references import ReferenceCatalog
from templates.models import FormAssignmentDefinition, FormField

__all__ = ["FormAssignmentDefinitionAdmin", "calculations_summary"]

PREFIX = "default_"
HELP = 'An expression, for example lastStr("integration.aiEngineTimeSlot.timeSlot"). Empty: none.'


def default_field(field_name: str) -> str:
    return f"{PREFIX}{field_name}"


class DefaultCalculationsForm(forms.ModelForm):
    """assign_mode, and one expression input per field of the form (`form_fields`, per form)."""

    form_fields: list[FormField] = []

    class Meta:
        model = FormAssignmentDefinition
        fields = ("assign_mode",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        calculations = self.instance.default_calculations or {}
        for form_field in self.form_fields:
            self.fields[default_field(form_field.name)].initial = calculations.get(
                form_field.name, ""
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        catalog = ReferenceCatalog(self.instance.template)
        calculations = {}
        for form_field in self.form_fields:
            name = default_field(form_field.name)
            source = (cleaned.get(name) or "").strip()
            if not source:
                continue
            try:
                expression = compile_checked(source, catalog)
                if not expression_fits(expression, form_field.field_type):
                    raise ValueError(
                        f"The expression gives {expression.infer_type()}, but "
                        f"{form_field.name} takes {type_name(form_field.field_type)}."
                    )
            except ValueError as error:
                self.add_error(name, str(error))
                continue
            calculations[form_field.name] = source
        self.instance.default_calculations = calculations
        return cleaned


def calculations_form_for(definition: FormAssignmentDefinition) -> type[DefaultCalculationsForm]:
    form_fields = list(definition.form.fields.order_by("position", "id"))
    declared: dict[str, Any] = {"form_fields": form_fields}
    for form_field in form_fields:
        declared[default_field(form_field.name)] = forms.CharField(
            required=False,
            max_length=2000,
            label=f"{form_field.name} ({type_name(form_field.field_type)})",
            help_text=HELP,
            widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
        )
    return type("DefaultCalculationsForm", (DefaultCalculationsForm,), declared)


def calculations_summary(definition: FormAssignmentDefinition) -> str:
    """The default calculations in words, one line per field: `slot = lastStr(...)`."""
    calculations = sorted((definition.default_calculations or {}).items())
    if not calculations:
        return "none"
    return format_html(
        '<ul class="healix-calculations">{}</ul>',
        format_html_join("", "<li><code>{} = {}</code></li>", calculations),
    )


@admin.register(FormAssignmentDefinition)
class FormAssignmentDefinitionAdmin(OrganizationScopedAdmin):
    """Reached from its template's page (no entry on the admin's index)."""

    list_display = ("__str__", "template", "assign_mode", "organization")
    list_filter = ("organization", "template")
    list_select_related = ("template", "form", "role")
    readonly_fields = ("template", "form", "role")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added in the template editor, among the template's parts

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # no line on the index: reached from the template

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["template", "form", "role", "assign_mode"]
        names = obj.form.fields.order_by("position", "id").values_list("name", flat=True)
        return ["template", "form", "role", "assign_mode", *map(default_field, names)]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = calculations_form_for(obj)
        return super().get_form(request, obj, change=change, **kwargs)
