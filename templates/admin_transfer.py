"""Template import and export in the admin, as a mixin for PlanTemplate's ModelAdmin.

Adds an "Export selected templates" action, an Export button on the change form, an Import
button on the changelist and the import page at <admin>/templates/plantemplate/import/. All
the work is done by templates.transfer; this module only handles requests and permissions.
Every object it exports comes from self.get_queryset(request), so the admin's tenancy applies.
"""

import io
import zipfile

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import content_disposition_header

from healix.models import Organization
from templates.models import PlanTemplate
from templates.transfer import (
    ImportProblem,
    TemplateImportError,
    dumps_document,
    export_template,
    import_template,
    read_document,
)

__all__ = ["TemplateImportForm", "TemplateTransferAdminMixin"]

# A fixed timestamp for zip entries: the same templates give the same archive, byte for byte.
ZIP_ENTRY_DATE = (1980, 1, 1, 0, 0, 0)


class TemplateImportForm(forms.Form):
    file = forms.FileField(
        label="Template document",
        help_text="A .json file exported from Healix (docs/template-format.md).",
    )
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.all(),
        help_text="The organization that receives the template.",
    )
    replace = forms.BooleanField(
        required=False,
        label="Replace an existing template of the same name",
        help_text="Refused when that template already has plans.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only platform operators choose; everybody else imports into their own organization.
        if not user.is_superuser:
            del self.fields["organization"]


def _document_response(templates: list[PlanTemplate]) -> HttpResponse:
    """One template: its .json document. Several: a zip of documents, <orgId>/<name>.json
    (a superuser may select same-named templates of different organizations)."""
    if len(templates) == 1:
        template = templates[0]
        response = HttpResponse(
            dumps_document(export_template(template)),
            content_type="application/json; charset=utf-8",
        )
        filename = f"{template.name}.json"
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for template in sorted(templates, key=lambda t: (t.organization.slug, t.name)):
                entry = zipfile.ZipInfo(
                    f"{template.organization.slug}/{template.name}.json", ZIP_ENTRY_DATE
                )
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, dumps_document(export_template(template)))
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        filename = "plan-templates.zip"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


class TemplateTransferAdminMixin:
    """Put it first among the bases of PlanTemplate's ModelAdmin."""

    change_list_template = "admin/templates/plantemplate/transfer_change_list.html"
    change_form_template = "admin/templates/plantemplate/transfer_change_form.html"
    import_page_template = "admin/templates/plantemplate/import.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        # Before the ModelAdmin's own URLs, whose <path:object_id>/ would swallow "import/".
        return [
            path("import/", wrap(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "<path:object_id>/export/",
                wrap(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    # --- export ---------------------------------------------------------------------------------

    @admin.action(description="Export selected templates")
    def export_selected_templates(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        # The changelist's queryset: already limited by get_queryset to what the user may see,
        # so ids of another organization's templates simply select nothing.
        templates = list(queryset.select_related("organization"))
        if not templates:
            self.message_user(request, "No template selected to export.", messages.WARNING)
            return None
        return _document_response(templates)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.actions is not None and self.has_view_permission(request):
            action = type(self).export_selected_templates
            actions["export_selected_templates"] = (
                action,
                "export_selected_templates",
                action.short_description,
            )
        return actions

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # scoped by get_queryset
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return _document_response([obj])

    # --- import ---------------------------------------------------------------------------------

    def import_view(self, request: HttpRequest) -> HttpResponse:
        request.current_app = self.admin_site.name
        if not self.has_add_permission(request):
            raise PermissionDenied
        problems: list[ImportProblem] = []
        if request.method == "POST":
            form = TemplateImportForm(request.POST, request.FILES, user=request.user)
            if form.is_valid():
                result = self._import(request, form)
                if isinstance(result, HttpResponse):
                    return result
                problems = result
        else:
            form = TemplateImportForm(user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import {self.opts.verbose_name}",
            "opts": self.opts,
            "form": form,
            "problems": problems,
            "has_view_permission": self.has_view_permission(request),
            "max_bytes": settings.HEALIX_TEMPLATE_IMPORT_MAX_BYTES,
        }
        return TemplateResponse(request, self.import_page_template, context)

    def _import(self, request: HttpRequest, form: TemplateImportForm):
        """The new template's redirect, or the problems that refused the document."""
        organization = form.cleaned_data.get("organization") or request.user.organization
        replace = form.cleaned_data["replace"]
        if replace and not self.has_change_permission(request):
            # Replacing rewrites an existing template: that is a change, not only an addition.
            form.add_error("replace", "You may add templates but not change existing ones.")
            return []
        upload = form.cleaned_data["file"]
        existing = set(
            PlanTemplate.objects.filter(organization=organization).values_list("pk", flat=True)
        )
        try:
            document = read_document(upload)
            template = import_template(
                organization=organization, document=document, replace=replace
            )
        except TemplateImportError as error:
            return error.problems
        replaced = template.pk in existing
        if replaced:
            self.log_change(request, template, "Replaced from a template document.")
        else:
            self.log_addition(request, template, "Imported from a template document.")
        verb = "Replaced" if replaced else "Imported"
        messages.success(
            request, f"{verb} template {template.name} in organization {organization.slug}."
        )
        info = self.opts.app_label, self.opts.model_name
        url = reverse(
            "admin:{}_{}_change".format(*info),
            args=[template.pk],
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(url)
