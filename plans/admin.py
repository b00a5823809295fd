"""Plans and work queue items in the admin. Every change goes through plans/services/
(see plans/admin_forms.py); the admin itself never saves a run-time row."""

from django.contrib import admin
from django.db import router, transaction
from django.urls import reverse
from django.utils.html import format_html

from healix.admin.scoping import OrganizationScopedAdmin, OrganizationScopedInline, RecordAdmin
from plans.admin_forms import (
    PlanAddForm,
    PlanChangeForm,
    RoleAssignmentFormSet,
    WorkQueueItemAddForm,
    WorkQueueItemChangeForm,
)
from plans.models import (
    FormAssignment,
    FormSubmission,
    Plan,
    RoleAssignment,
    WorkQueueItem,
    WorkQueueItemStatusChange,
)
from templates.models import Role

__all__ = ["FormSubmissionAdmin", "PlanAdmin", "ServiceBackedAdmin", "WorkQueueItemAdmin"]

# Set on the request once the services' work is accepted and the admin goes on to save.
SERVICE_WORK_ACCEPTED = "_healix_service_work_accepted"


class ServiceBackedAdmin(OrganizationScopedAdmin):
    """An admin whose forms call services while validating (plans/admin_forms.py).

    A form may have succeeded while another part of the page failed (an inline row, say);
    the page then shows errors, so the whole request's writes are rolled back.
    """

    add_form: type | None = None
    add_fieldsets: tuple = ()
    save_as = False

    def get_fieldsets(self, request, obj=None):
        # Adding goes through a service that derives the organization: no organization field.
        if obj is None and self.add_fieldsets:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if not getattr(request, SERVICE_WORK_ACCEPTED, False):
                transaction.set_rollback(True)
            return response

    def save_form(self, request, form, change):
        return form.result if form.result is not None else form.instance

    def save_model(self, request, obj, form, change):
        setattr(request, SERVICE_WORK_ACCEPTED, True)  # the service saved it already

    def save_related(self, request, form, formsets, change):
        # No many-to-many, and inline rows are read-only or went through a service while
        # validating; only record "nothing saved here" for the change message.
        for formset in formsets:
            if not hasattr(formset, "new_objects"):
                formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def has_delete_permission(self, request, obj=None):
        return False  # no service deletes run-time rows

    def get_inlines(self, request, obj):
        # Inlines show what a service made; on the add page there is nothing yet.
        return self.inlines if obj is not None else ()


class ReadOnlyInline(OrganizationScopedInline):
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleAssignmentInline(OrganizationScopedInline):
    model = RoleAssignment
    formset = RoleAssignmentFormSet
    fields = ("role", "user")
    can_delete = False
    verbose_name_plural = "role assignments (changes go through assign_role)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and "role" in formset.form.base_fields:
            formset.form.base_fields["role"].queryset = Role.objects.filter(
                template_id=obj.template_id
            )
        return type(formset.__name__, (formset,), {"actor": request.user})

    def has_delete_permission(self, request, obj=None):
        return False


class FormAssignmentInline(ReadOnlyInline):
    model = FormAssignment
    fields = ("id", "definition", "user", "status", "assigned_at", "submission_link")
    readonly_fields = fields
    ordering = ("assigned_at",)

    @admin.display(description="submission")
    def submission_link(self, obj: FormAssignment) -> str:
        submission = FormSubmission.objects.filter(assignment=obj).first()
        if submission is None:
            return "-"
        url = reverse("admin:plans_formsubmission_change", args=[submission.pk])
        return format_html('<a href="{}">{}</a>', url, submission.submitted_at)


class WorkQueueItemInline(ReadOnlyInline):
    model = WorkQueueItem
    fields = ("queue", "ticket_number", "title", "status", "priority", "service_location")
    readonly_fields = fields
    show_change_link = True


@admin.register(Plan)
class PlanAdmin(ServiceBackedAdmin):
    form = PlanChangeForm
    add_form = PlanAddForm
    list_display = (
        "__str__",
        "template",
        "user",
        "status",
        "risk_status",
        "start_date",
        "organization",
    )
    list_filter = ("organization", "status", "template")
    list_select_related = ("template", "user")
    search_fields = ("title", "risk_status", "template__name", "user__username")
    date_hierarchy = "start_date"
    inlines = (RoleAssignmentInline, FormAssignmentInline, WorkQueueItemInline)

    add_fieldsets = ((None, {"fields": PlanAddForm.Meta.fields}),)
    fieldsets = (
        (None, {"fields": ("id", "template", "user", "start_date")}),
        ("Changeable (through update_plan)", {"fields": PlanChangeForm.Meta.fields}),
        ("Record", {"fields": ("organization", "created_at", "created_by", "rule_evaluations")}),
    )
    readonly_fields = (
        "id",
        "template",
        "user",
        "start_date",
        "organization",
        "created_at",
        "created_by",
        "rule_evaluations",
    )

    @admin.display(description="rules")
    def rule_evaluations(self, plan: Plan) -> str:
        # The audit trail of this plan's rule evaluations (rules/admin.py).
        if plan.pk is None:
            return "-"
        url = reverse("admin:rules_ruleevaluation_changelist") + f"?plan={plan.pk}"
        return format_html('<a href="{}">Rule evaluations of this plan</a>', url)


class StatusChangeInline(ReadOnlyInline):
    model = WorkQueueItemStatusChange
    fields = ("changed_at", "old_status", "new_status", "changed_by")
    readonly_fields = fields
    ordering = ("changed_at", "id")
    verbose_name_plural = "status history"


@admin.register(WorkQueueItem)
class WorkQueueItemAdmin(ServiceBackedAdmin):
    form = WorkQueueItemChangeForm
    add_form = WorkQueueItemAddForm
    list_display = (
        "queue",
        "ticket_number",
        "title",
        "status",
        "priority",
        "service_location",
        "queue_position",
        "created_at",
        "organization",
    )
    list_filter = ("organization", "queue")
    list_select_related = ("queue", "status", "service_location")
    search_fields = ("title", "queue__name", "plan__title", "plan__user__username")
    autocomplete_fields = ("plan",)
    inlines = (StatusChangeInline,)

    add_fieldsets = ((None, {"fields": WorkQueueItemAddForm.Meta.fields}),)
    fieldsets = (
        (None, {"fields": ("id", "queue", "ticket_number", "plan", "title", "created_at")}),
        ("Changeable (through the services)", {"fields": WorkQueueItemChangeForm.Meta.fields}),
        ("Record", {"fields": ("organization", "updated_at")}),
    )
    readonly_fields = (
        "id",
        "queue",
        "ticket_number",
        "plan",
        "title",
        "created_at",
        "organization",
        "updated_at",
    )


@admin.register(FormSubmission)
class FormSubmissionAdmin(RecordAdmin):
    """Submissions are records: shown, never edited here."""

    list_display = ("assignment", "submitted_at", "submitted_by", "organization")
    list_filter = ("organization",)
    list_select_related = ("assignment__definition__form", "assignment__user", "submitted_by")
    search_fields = ("assignment__definition__form__name", "assignment__user__username")
    fields = ("organization", "assignment", "data", "submitted_at", "submitted_by")
    readonly_fields = fields
