"""The admin site of Healix: Django's, plus the operations page (healix/admin/operations_view.py),
linked from the index for every staff user. Installed as the default site by
healix.apps.HealixAdminConfig, so every `admin.site.register` lands here."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import path, reverse

from healix.admin.operations_view import operations_view

__all__ = ["HealixAdminSite"]


class HealixAdminSite(admin.AdminSite):
    site_header = "Healix integration"
    site_title = "Healix integration"
    index_title = "Editor"

    def get_urls(self):
        page = path("operations/", self.admin_view(operations_view), name="operations")
        return [page, *super().get_urls()]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None or not self.has_permission(request):
            return apps
        url = reverse("admin:operations", current_app=self.name)
        page = {
            "name": "Operations view",
            "object_name": "Operations",
            "admin_url": url,
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        operations = {
            "name": "Operations",
            "app_label": "operations",
            "app_url": url,
            "has_module_perms": True,
            "models": [page],
        }
        return [operations, *apps]
