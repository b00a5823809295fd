"""The tenancy core in the admin: organizations (superusers only), users, and API keys."""

import json

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from bus.credentials import bus_credentials
from healix.admin.scoping import OrganizationScopedAdmin, is_platform_admin
from healix.api.scopes import Scope
from healix.models import Organization, OrganizationAPIKey, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Organizations are the platform operator's business: superusers only."""

    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(User)
class UserAdmin(OrganizationScopedAdmin, DjangoUserAdmin):
    """Administrators manage their own organization's users; only superusers make superusers,
    grant single permissions or move a user to another organization."""

    list_display = ("username", "id", "organization", "user_type", "is_test", "is_staff")
    list_filter = ("organization", "user_type", "is_test", "is_staff", "groups")
    search_fields = ("username", "first_name", "last_name", "email", "id")
    readonly_fields = ("id", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Healix", {"fields": ("organization", "user_type", "is_test")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "organization",
                    "user_type",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    # Fields only a superuser may see or set: they reach beyond one organization.
    PLATFORM_FIELDS = ("is_superuser", "user_permissions")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # An organization's administrator must never edit (say, the password of) a superuser.
        return queryset if is_platform_admin(request) else queryset.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform_admin(request):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.PLATFORM_FIELDS]})
            for name, opts in fieldsets
        ]

    def save_model(self, request, obj, form, change):
        if not is_platform_admin(request):
            obj.is_superuser = False  # belt and braces: the field is not on the form either
        super().save_model(request, obj, form, change)


# The library's own keys belong to no organization; only organization keys authenticate.
admin.site.unregister(APIKey)


class OrganizationAPIKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do; tick only what the partner needs.",
    )

    class Meta:
        model = OrganizationAPIKey
        fields = ("organization", "name", "partner", "scopes", "expiry_date", "revoked")

    def clean(self) -> dict:
        # A superuser picks among every organization's partners; PostgreSQL would refuse a
        # partner of another organization (composite key): say so next to the field instead.
        data = super().clean()
        partner, organization = data.get("partner"), data.get("organization")
        foreign = partner is not None and organization is not None
        if foreign and partner.organization_id != organization.pk:
            self.add_error("partner", "This partner belongs to another organization.")
        return data


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(OrganizationScopedAdmin, APIKeyModelAdmin):
    """Keys of partner systems: the key is shown once, on creation (a message); revoking one
    cannot be undone; an expiry is optional. Its scopes are ticked when it is made (and may be
    narrowed or widened later); its prefix and last use show which key a partner is using."""

    form = OrganizationAPIKeyForm
    list_display = (
        "prefix",
        "name",
        "organization",
        "scope_list",
        "last_used_at",
        "created",
        "expiry_date",
        "revoked",
    )
    list_filter = ("organization", "revoked")
    fields = (
        "organization",
        "name",
        "partner",
        "scopes",
        "expiry_date",
        "revoked",
        "prefix",
        "last_used_at",
        "user",
        "bus_access",
    )

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at", "user", "bus_access")

    @admin.display(description="bus access (NATS)")
    def bus_access(self, obj: OrganizationAPIKey) -> str:
        """What POST /api/v1/bus-credentials/ answers this key (docs/bus-access.md)."""
        if obj is None or obj.pk is None:
            return "-"
        credentials = bus_credentials(obj)
        if credentials is None:
            return "None: the key has neither inbound:write nor events:read."
        example = credentials.pop("example")
        return format_html(
            "<pre>{}</pre><p>Example (nats-py):</p><pre>{}</pre>",
            json.dumps(credentials, indent=2),
            example,
        )

    @admin.display(description="scopes")
    def scope_list(self, obj: OrganizationAPIKey) -> str:
        return ", ".join(obj.scopes) or "none"
