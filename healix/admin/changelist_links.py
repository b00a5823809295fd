"""Links into the admin, for the pages that point at it (the operations view): only for a
user who may open them, and a change list's sorted by a column's *name*.

Django's change list sorts by `?o=<n>`, the position of the column among those that user is
shown: the action checkbox (there only when the user has an action) and the columns of
`get_list_display(request)` (which may differ by user, a superuser seeing the organization
too). A number written by hand sorts by another column as soon as either changes, so the
number is computed here, per request, the way `ModelAdmin.get_changelist_instance` lays the
columns out.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse

__all__ = ["change_url", "changelist_columns", "changelist_url"]


def changelist_columns(request: HttpRequest, model_admin: admin.ModelAdmin) -> list[str]:
    """The change list's columns for this user, in the order `?o=` numbers them."""
    columns = list(model_admin.get_list_display(request))
    if model_admin.get_actions(request):
        columns.insert(0, "action_checkbox")
    return columns


def changelist_url(
    request: HttpRequest,
    model: type[Model],
    filters: dict[str, str],
    order_by: str = "",
    site: admin.AdminSite = admin.site,
) -> str | None:
    """The change list of `model` with `filters`, sorted by the column named `order_by`
    (`-name`: descending; a column this user is not shown: unsorted); None when the user may
    not open it."""
    model_admin = site._registry.get(model)
    if model_admin is None or not model_admin.has_view_permission(request):
        return None
    params = dict(filters)
    column = order_by.removeprefix("-")
    columns = changelist_columns(request, model_admin)
    if column and column in columns:
        descending = "-" if order_by.startswith("-") else ""
        params[ORDER_VAR] = f"{descending}{columns.index(column)}"
    opts = model._meta
    url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}"


def change_url(
    request: HttpRequest, model: type[Model], pk, site: admin.AdminSite = admin.site
) -> str | None:
    """The admin page of one `model` row; None when the user may not open it."""
    model_admin = site._registry.get(model)
    if model_admin is None or not model_admin.has_view_permission(request):
        return None
    opts = model._meta
    return reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[pk])
