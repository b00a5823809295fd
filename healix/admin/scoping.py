"""The admin as the editor, strictly tenant-isolated.

`OrganizationScopedAdmin` (and `OrganizationScopedInline`) let a non-superuser see and edit
rows of their own organization only: changelists, change forms reached by URL (404 for
anything else), foreign-key choices (inlines and autocomplete included) and list filters.
A superuser sees everything and picks the organization himself.

Models reach their organization through `organization`; models without one (FormField,
WorkQueueStatus, ServiceLocation) through their required parent, found by `organization_path`.
"""

import json
from functools import cache

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from bus.credentials import bus_credentials
from healix.admin.json_forms import StrictJSONAdminMixin, json_block
from healix.api.scopes import Scope
from healix.models import Organization, OrganizationAPIKey, User

__all__ = [
    "OrganizationAPIKeyAdmin",
    "OrganizationAdmin",
    "OrganizationScopedAdmin",
    "OrganizationScopedInline",
    "OrganizationScopedMixin",
    "ParentOrganizationFormSet",
    "RecordAdmin",
    "ScopedRelatedFieldListFilter",
    "UserAdmin",
    "json_block",
    "organization_path",
    "scope_queryset",
]

admin.site.site_header = "Healix integration"
admin.site.site_title = "Healix integration"
admin.site.index_title = "Editor"

ORGANIZATION = "organization"
# How many required foreign keys we follow to find an organization (FormField -> Form: 1).
MAX_PARENT_HOPS = 2


@cache
def organization_path(model: type[models.Model], hops: int = MAX_PARENT_HOPS) -> str | None:
    """The lookup from `model` to its organization's id, or None for global models.

    Only required (non-null) foreign keys are followed: a row reached through a nullable one
    could belong to nobody, and nobody's rows must not become everybody's.
    """
    if model is Organization:
        return "pk"
    names = {field.name: field for field in model._meta.get_fields()}
    if isinstance(names.get(ORGANIZATION), models.ForeignKey):
        return ORGANIZATION
    if hops == 0:
        return None
    for field in model._meta.fields:
        if isinstance(field, models.ForeignKey) and not field.null:
            parent_path = organization_path(field.related_model, hops - 1)
            if parent_path is not None and parent_path != "pk":
                return f"{field.name}__{parent_path}"
    return None


def scope_queryset(queryset: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    """Restrict `queryset` to the organization of the request's user (superusers: no limit)."""
    user = request.user
    if user.is_superuser:
        return queryset
    path = organization_path(queryset.model)
    if path is None:
        return queryset  # global rows such as groups
    if getattr(user, "organization_id", None) is None:
        return queryset.none()
    return queryset.filter(**{path: user.organization_id})


def _is_platform_admin(request: HttpRequest) -> bool:
    return request.user.is_superuser


def _has_organization_field(model: type[models.Model]) -> bool:
    return organization_path(model) == ORGANIZATION


def _strip_organization(names) -> list:
    return [
        name
        for name in names
        if not (isinstance(name, str) and name.split("__")[0] == ORGANIZATION)
    ]


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """The default related filter lists every row of the related model; this one only the
    user's organization's, so a filter never shows another organization's names."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        pks = scope_queryset(related._default_manager.all(), request).values("pk")
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": pks}, ordering=ordering
        )


class PinnedOrganizationForm(forms.ModelForm):
    """A form whose instance belongs to a fixed organization that the user does not pick."""

    pinned_organization: Organization | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.organization_id is None and self.pinned_organization is not None:
            self.instance.organization = self.pinned_organization

    def _get_validation_exclusions(self):
        # `organization` is no form field, yet it is set: let the unique constraints that
        # include it (for example one template name per organization) be checked here, or a
        # duplicate would only fail in the database, as a server error.
        exclusions = super()._get_validation_exclusions()
        exclusions.discard(ORGANIZATION)
        return exclusions


class OrganizationScopedMixin(StrictJSONAdminMixin):
    """Shared by model admins and inlines: scoped rows, scoped choices, no organization field
    for non-superusers, JSON inputs read strictly."""

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self._scope_formfield(formfield, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        return self._scope_formfield(formfield, request)

    def _scope_formfield(self, formfield, request):
        # Scoping the form field (not just the widget) also refuses posted foreign ids.
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = scope_queryset(formfield.queryset, request)
        return formfield

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not _is_platform_admin(request) and _has_organization_field(self.model):
            exclude.append(ORGANIZATION)
        return exclude

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if _is_platform_admin(request):
            return fieldsets
        return [
            (name, {**options, "fields": _strip_organization(options.get("fields", ()))})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if _is_platform_admin(request) else _strip_organization(readonly)


class OrganizationScopedAdmin(OrganizationScopedMixin, admin.ModelAdmin):
    """A model admin that never shows or accepts another organization's rows."""

    def get_object(self, request, object_id, from_field=None):
        # Django 5.2 answers a missing object with a redirect to the index and a message
        # "... doesn't exist"; for another organization's id that is an oracle. Answer 404.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if _is_platform_admin(request) or not _has_organization_field(self.model):
            return form
        return type(
            form.__name__,
            (PinnedOrganizationForm, form),
            {"pinned_organization": request.user.organization},
        )

    def save_model(self, request, obj, form, change):
        if not _is_platform_admin(request) and _has_organization_field(self.model):
            obj.organization_id = request.user.organization_id
        super().save_model(request, obj, form, change)

    def get_list_display(self, request):
        display = super().get_list_display(request)
        return display if _is_platform_admin(request) else _strip_organization(display)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not _is_platform_admin(request):
            filters = _strip_organization(filters)
        return [self._scoped_filter(spec) for spec in filters]

    def _scoped_filter(self, spec):
        if not isinstance(spec, str) or "__" in spec:
            return spec
        field = self.model._meta.get_field(spec)
        if field.is_relation and organization_path(field.related_model) is not None:
            return (spec, ScopedRelatedFieldListFilter)
        return spec


class ParentOrganizationFormSet(BaseInlineFormSet):
    """Gives each inline row its parent's organization before validation, so model clean()
    and the organization-wide unique constraints see it (the field itself is never shown)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if _has_organization_field(self.model) and form.instance.organization_id is None:
            form.instance.organization_id = getattr(self.instance, "organization_id", None)


class OrganizationScopedInline(OrganizationScopedMixin, admin.TabularInline):
    formset = ParentOrganizationFormSet
    extra = 0

    def get_exclude(self, request, obj=None):
        # An inline row always lives in its parent's organization, also for superusers.
        exclude = list(super().get_exclude(request, obj) or [])
        if _has_organization_field(self.model) and ORGANIZATION not in exclude:
            exclude.append(ORGANIZATION)
        return exclude


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
        return queryset if _is_platform_admin(request) else queryset.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if _is_platform_admin(request):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.PLATFORM_FIELDS]})
            for name, opts in fieldsets
        ]

    def save_model(self, request, obj, form, change):
        if not _is_platform_admin(request):
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
        fields = ("organization", "name", "scopes", "expiry_date", "revoked")


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


class RecordAdmin(OrganizationScopedAdmin):
    """A record of what happened (an event, an inbound message, a submission): shown to whoever
    may view it, and never added, edited or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
