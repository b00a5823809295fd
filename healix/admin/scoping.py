"""The admin as the editor, strictly tenant-isolated.

`OrganizationScopedAdmin` (and `OrganizationScopedInline`) let a non-superuser see and edit
rows of their own organization only: changelists, change forms reached by URL (404 for
anything else), foreign-key choices (inlines and autocomplete included) and list filters.
A superuser sees everything and picks the organization himself.

Models reach their organization through `organization`; models without one (FormField,
WorkQueueStatus, ServiceLocation) through their required parent, found by `organization_path`.
"""

from functools import cache

from django import forms
from django.contrib import admin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest

from healix.admin.json_forms import StrictJSONAdminMixin, json_block
from healix.models import Organization

__all__ = [
    "OrganizationScopedAdmin",
    "OrganizationScopedInline",
    "OrganizationScopedMixin",
    "ParentOrganizationFormSet",
    "RecordAdmin",
    "ScopedRelatedFieldListFilter",
    "is_platform_admin",
    "json_block",
    "organization_path",
    "scope_queryset",
]

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


def is_platform_admin(request: HttpRequest) -> bool:
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
        if not is_platform_admin(request) and _has_organization_field(self.model):
            exclude.append(ORGANIZATION)
        return exclude

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform_admin(request):
            return fieldsets
        return [
            (name, {**options, "fields": _strip_organization(options.get("fields", ()))})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if is_platform_admin(request) else _strip_organization(readonly)


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
        if is_platform_admin(request) or not _has_organization_field(self.model):
            return form
        return type(
            form.__name__,
            (PinnedOrganizationForm, form),
            {"pinned_organization": request.user.organization},
        )

    def save_model(self, request, obj, form, change):
        if not is_platform_admin(request) and _has_organization_field(self.model):
            obj.organization_id = request.user.organization_id
        super().save_model(request, obj, form, change)

    def get_list_display(self, request):
        display = super().get_list_display(request)
        return display if is_platform_admin(request) else _strip_organization(display)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not is_platform_admin(request):
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


class RecordAdmin(OrganizationScopedAdmin):
    """A record of what happened (an event, an inbound message, a submission): shown to whoever
    may view it, and never added, edited or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
