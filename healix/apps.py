from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class HealixConfig(AppConfig):
    default = True  # "healix" in INSTALLED_APPS; HealixAdminConfig below is named in full
    name = "healix"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        # The editor groups are synced after every migrate (and every test flush), with the
        # final models: a new app or model joins its groups without a migration of its own.
        post_migrate.connect(sync_editor_groups, sender=self)
        # Registers the Api-Key scheme with drf-spectacular (extensions register on import).
        import healix.api.openapi  # noqa: F401
        from healix.encryption import check_keys

        check_keys()  # a malformed HEALIX_ENCRYPTION_KEYS stops the process at start-up


def sync_editor_groups(sender: AppConfig, using: str = "default", **kwargs) -> None:
    from django.apps import apps as global_apps

    from healix.admin.groups import sync_groups

    # `apps` is the migrated state after migrate; a flush sends no state, only the models.
    sync_groups(kwargs.get("apps") or global_apps, using=using)


class HealixAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site (the operations page) as the default `admin.site`."""

    default = False  # AdminConfig's True would make two defaults in this module
    default_site = "healix.admin.site.HealixAdminSite"

    def ready(self) -> None:
        super().ready()  # builds the site and imports every app's admin module
        # The pages of organizations, users and API keys (see healix/admin/__init__.py).
        import healix.admin.tenancy  # noqa: F401
