"""The two editor groups and what they may do.

Groups hold model permissions only; *which rows* a member sees is the admin's business
(healix/admin/scoping.py limits every member to their own organization).
"""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions

__all__ = ["ADMINISTRATORS", "CONTENT_MANAGERS", "GROUP_GRANTS", "sync_groups"]

CONTENT_MANAGERS = "Content managers"
ADMINISTRATORS = "Administrators"

# Group -> grants; a grant is an app label (all its models) or "app_label.model_name".
GROUP_GRANTS: dict[str, tuple[str, ...]] = {
    CONTENT_MANAGERS: (
        "templates",
        "integrations.integrationdefinition",
        "integrations.integrationfield",
        "rules",
    ),
    ADMINISTRATORS: (
        "templates",
        "plans",
        "healix.user",
        "healix.organizationapikey",
        "integrations.integrationdefinition",
        "integrations.integrationfield",
        "integrations.inboundevent",
        "events.outboxevent",
        # HTTP integrations (webhooks) and their delivery log.
        "integrations.httpintegration",
        "integrations.webhooksubscription",
        "integrations.httpintegrationcondition",
        "integrations.httpintegrationevent",
        "integrations.webhookdelivery",
        "integrations.webhookattempt",
        "rules",
        # Partners and the portal links issued to them (docs/portal.md).
        "portal",
    ),
}
ACTIONS = ("add", "change", "delete", "view")


def sync_groups(apps: Apps, using: str = "default") -> None:
    """Create the groups (if missing) and give each exactly its grants' permissions.

    Run after every migrate (healix/apps.py). Django creates permissions in its own
    post_migrate handler, which may run after this one for later apps, so they are created
    here first; that is idempotent.
    """
    # `apps` may lack an app that is not migrated yet (post_migrate runs per app): skip it;
    # the next post_migrate, once it exists, grants it.
    grants_by_group = {
        name: [grant for grant in grants if _exists(apps, grant)]
        for name, grants in GROUP_GRANTS.items()
    }
    labels = {grant.split(".")[0] for grants in grants_by_group.values() for grant in grants}
    for label in sorted(labels):
        app_config = apps.get_app_config(label)
        # Historical app configs have no models module; create_permissions skips those.
        had_module = getattr(app_config, "models_module", None)
        app_config.models_module = had_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=using)
        finally:
            app_config.models_module = had_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in grants_by_group.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        permissions = []
        for grant in grants:
            label, _dot, model_name = grant.partition(".")
            models = (
                [apps.get_model(label, model_name)]
                if model_name
                else list(apps.get_app_config(label).get_models())
            )
            codenames = [
                f"{action}_{model._meta.model_name}" for model in models for action in ACTIONS
            ]
            permissions += Permission.objects.using(using).filter(
                content_type__app_label=label, codename__in=codenames
            )
        group.permissions.set(permissions)


def _exists(apps: Apps, grant: str) -> bool:
    label, _dot, model_name = grant.partition(".")
    try:
        if model_name:
            apps.get_model(label, model_name)
        else:
            apps.get_app_config(label)
    except LookupError:
        return False
    return True
