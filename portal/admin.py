"""Partners and their portal links in the admin (Administrators).

A partner's page picks its API keys, HTTP integrations and inbound subjects (of its
organization only; a subject is one partner's at most). The
action "Issue a portal link…" asks read-only or read-write and shows the link once, in a
message; Portal sessions lists every link with its state, and "Revoke" ends one at once.
Thin: portal/services.py does the work."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.template.response import TemplateResponse

from healix.admin.scoping import OrganizationScopedAdmin, is_platform_admin
from healix.models import OrganizationAPIKey
from integrations.models import HttpIntegration, IntegrationDefinition
from portal import services
from portal.models import Partner, PortalAccess, PortalSession


class PartnerForm(forms.ModelForm):
    integrations = forms.ModelMultipleChoiceField(
        queryset=HttpIntegration.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="HTTP integrations",
        help_text="The webhook endpoints the partner sees and manages in its portal.",
    )
    api_keys = forms.ModelMultipleChoiceField(
        queryset=OrganizationAPIKey.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="API keys",
        help_text="Its keys: their bus access in its portal.",
    )
    subjects = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="inbound subjects",
        help_text="The subjects it sends: their schemas and inbound events are shown in its "
        "portal. A subject is one partner's at most.",
    )

    def clean_subjects(self) -> list[str]:
        subjects = self.cleaned_data["subjects"]
        problem = services.subject_problem(self.instance, subjects)
        if problem:
            raise forms.ValidationError(problem)
        return subjects

    class Meta:
        model = Partner
        fields = ("organization", "name")


class IssueLinkForm(forms.Form):
    access = forms.ChoiceField(choices=PortalAccess.choices, initial=PortalAccess.READ_ONLY)
    minutes = forms.IntegerField(
        min_value=1,
        max_value=settings.HEALIX_PORTAL_MAX_SESSION_SECONDS // 60,
        initial=settings.HEALIX_PORTAL_SESSION_SECONDS // 60,
        help_text="The link, and the session it starts, end after this long.",
    )


@admin.register(Partner)
class PartnerAdmin(OrganizationScopedAdmin):
    form = PartnerForm
    list_display = ("name", "organization", "created_at")
    search_fields = ("name",)
    actions = ("issue_link",)

    def get_fields(self, request, obj=None):
        fields = ["organization", "name"] if is_platform_admin(request) else ["name"]
        return fields + (["integrations", "api_keys", "subjects"] if obj is not None else [])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form

        class Scoped(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                organization_id = obj.organization_id
                self.fields["integrations"].queryset = HttpIntegration.objects.filter(
                    organization_id=organization_id
                )
                self.fields["api_keys"].queryset = OrganizationAPIKey.objects.filter(
                    organization_id=organization_id, revoked=False
                )
                names = IntegrationDefinition.objects.filter(organization_id=organization_id)
                choices = sorted(set(names.values_list("subject", flat=True)))
                self.fields["subjects"].choices = [(name, name) for name in choices]
                self.initial["subjects"] = list(obj.subjects.values_list("subject", flat=True))
                self.initial["integrations"] = list(obj.integrations.values_list("pk", flat=True))
                self.initial["api_keys"] = list(obj.api_keys.values_list("pk", flat=True))

        return Scoped

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if "integrations" in form.cleaned_data:
            services.set_members(
                form.instance,
                integrations=form.cleaned_data["integrations"],
                api_keys=form.cleaned_data["api_keys"],
                subjects=form.cleaned_data["subjects"],
            )

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portal.add_portalsession")

    @admin.action(description="Issue a portal link…", permissions=["issue"])
    def issue_link(self, request: HttpRequest, queryset):
        form = IssueLinkForm(request.POST if "minutes" in request.POST else None)
        if form.is_bound and form.is_valid():
            for partner in queryset:
                link = services.issue_session(
                    partner,
                    access=form.cleaned_data["access"],
                    seconds=form.cleaned_data["minutes"] * 60,
                    issued_by=request.user,
                )
                self.message_user(
                    request,
                    f"Portal link for {partner} ({link.session.get_access_display().lower()}, "
                    f"single use, until {link.session.expires_at:%Y-%m-%d %H:%M} UTC; shown "
                    f"once): {request.build_absolute_uri(link.path)}",
                    messages.SUCCESS,
                )
            return None
        return TemplateResponse(
            request,
            "admin/portal/issue_link.html",
            {
                **self.admin_site.each_context(request),
                "title": "Issue a portal link",
                "opts": self.model._meta,
                "partners": queryset,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(PortalSession)
class PortalSessionAdmin(OrganizationScopedAdmin):
    list_display = ("partner", "access", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = ("access",)
    readonly_fields = (
        "partner",
        "access",
        "created_by",
        "created_at",
        "expires_at",
        "used_at",
        "revoked_at",
    )
    fields = readonly_fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # links are issued from a partner (or the API), never typed in

    @admin.action(description="Revoke (ends the link and its session now)", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        count = sum(services.revoke_session(session) for session in queryset)
        self.message_user(request, f"{count} portal session(s) revoked.", messages.SUCCESS)
