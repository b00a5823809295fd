"""The template editor: plan templates with their parts, forms with their fields, work queues.

Django cannot nest inlines, so a template's forms are listed inline with a link
(show_change_link) to each form's own page, where its fields are edited in order.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count

from healix.admin.scoping import (
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    ParentOrganizationFormSet,
)
from healix.models import UserType
from integrations.inbound.admin import IntegrationDefinitionInline
from templates.admin_defaults import calculations_summary
from templates.admin_links import template_links
from templates.admin_transfer import TemplateTransferAdminMixin
from templates.models import (
    CustomField,
    Form,
    FormAssignmentDefinition,
    FormField,
    PlanTemplate,
    Role,
    ServiceLocation,
    WorkQueue,
    WorkQueueStatus,
)

__all__ = ["FormAdmin", "PlanTemplateAdmin", "WorkQueueAdmin"]


class RoleForm(forms.ModelForm):
    # Tick boxes read better than the array field's comma-separated text.
    assignable_user_types = forms.TypedMultipleChoiceField(
        choices=UserType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=Role._meta.get_field("assignable_user_types").verbose_name.capitalize(),
        help_text=Role._meta.get_field("assignable_user_types").help_text,
    )

    class Meta:
        model = Role
        fields = ("role_id", "name", "description", "assignable_user_types", "is_primary")


class RoleFormSet(ParentOrganizationFormSet):
    def clean(self) -> None:
        super().clean()
        # The "one primary role" constraint is conditional, which formsets don't check across
        # rows; without this, two new rows ticked primary would fail in the database.
        primaries = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not self._should_delete_form(form)
            and form.cleaned_data.get("is_primary")
        ]
        if len(primaries) > 1:
            raise ValidationError("A template has at most one primary role.")


class RoleInline(OrganizationScopedInline):
    model = Role
    form = RoleForm
    formset = RoleFormSet
    fields = ("role_id", "name", "description", "assignable_user_types", "is_primary")
    formfield_overrides = {
        Role._meta.get_field("description").__class__: {"widget": forms.Textarea(attrs={"rows": 2})}
    }


class FormInline(OrganizationScopedInline):
    model = Form
    fields = ("name", "title", "field_count")
    readonly_fields = ("field_count",)
    show_change_link = True  # each form's fields are edited on the form's own page

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_field_count=Count("fields"))

    @admin.display(description="fields")
    def field_count(self, obj: Form) -> str:
        if obj.pk is None:
            return "Save first, then edit the fields"
        return str(getattr(obj, "_field_count", obj.fields.count()))


class FormAssignmentDefinitionInline(OrganizationScopedInline):
    model = FormAssignmentDefinition
    fields = ("form", "role", "assign_mode", "default_calculations_summary")
    readonly_fields = ("default_calculations_summary",)
    show_change_link = True
    verbose_name_plural = "form assignments (tasks; default calculations on each one's page)"

    @admin.display(description="default calculations")
    def default_calculations_summary(self, definition: FormAssignmentDefinition) -> str:
        if definition.pk is None:
            return "Save first, then write them on its page"
        return calculations_summary(definition)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Only this template's forms and roles make sense here; clean() checks it again.
        fields = formset.form.base_fields
        for name, related in (("form", Form), ("role", Role)):
            if name in fields:
                fields[name].queryset = related.objects.filter(template=obj)
        return formset


class CustomFieldInline(OrganizationScopedInline):
    model = CustomField
    fields = ("name", "label", "field_type", "required", "choices")


@admin.register(PlanTemplate)
class PlanTemplateAdmin(TemplateTransferAdminMixin, OrganizationScopedAdmin):
    list_display = ("name", "title", "organization", "updated_at")
    list_filter = ("organization",)
    search_fields = ("name", "title", "description")
    fields = ("organization", "name", "title", "description")
    change_form_template = "admin/templates/plantemplate/change_form.html"
    inlines = (
        RoleInline,
        FormInline,
        FormAssignmentDefinitionInline,
        CustomFieldInline,
        IntegrationDefinitionInline,
    )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Where the template's parts live on pages of their own, each with a count: only the
        # pages this user may open (templates/admin_links.py). Built here, not as a read-only
        # field, because a field's display has no request to ask.
        if obj is not None:
            context["see_also"] = list(template_links(obj, request, self.admin_site))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_inlines(self, request, obj):
        if obj is None:
            # Form assignments pick among saved forms and roles: offer them once those exist;
            # integrations, like forms, get their fields on their own page once saved.
            return (RoleInline, FormInline, CustomFieldInline)
        return self.inlines


class FormFieldInline(OrganizationScopedInline):
    model = FormField
    fields = ("position", "name", "label", "field_type", "required", "choices")
    ordering = ("position", "id")


@admin.register(Form)
class FormAdmin(OrganizationScopedAdmin):
    list_display = ("name", "title", "template", "organization")
    list_filter = ("organization", "template")
    list_select_related = ("template",)
    search_fields = ("name", "title", "template__name")
    fields = ("template", "name", "title")
    inlines = (FormFieldInline,)

    def get_readonly_fields(self, request, obj=None):
        # A form does not move between templates: rules and assignments refer to it there.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "template"] if obj is not None else readonly


class WorkQueueStatusInline(OrganizationScopedInline):
    model = WorkQueueStatus
    fields = (
        "step_number",
        "status_id",
        "label",
        "change_to_label",
        "description",
        "auto_close_after",
    )
    ordering = ("step_number",)
    formfield_overrides = {
        WorkQueueStatus._meta.get_field("description").__class__: {
            "widget": forms.Textarea(attrs={"rows": 2})
        }
    }


class ServiceLocationInline(OrganizationScopedInline):
    model = ServiceLocation
    fields = ("name",)


@admin.register(WorkQueue)
class WorkQueueAdmin(OrganizationScopedAdmin):
    list_display = ("name", "description", "organization")
    list_filter = ("organization",)
    search_fields = ("name", "description")
    fields = ("organization", "name", "description")
    inlines = (WorkQueueStatusInline, ServiceLocationInline)
