from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IntegrationsConfig(AppConfig):
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.inbound.definitions import forget_all
        from integrations.models import IntegrationDefinition, IntegrationField

        # This process forgets its shared definitions at once when one changes here.
        for model in (IntegrationDefinition, IntegrationField):
            post_save.connect(forget_all, sender=model, dispatch_uid=f"forget-{model.__name__}")
            post_delete.connect(forget_all, sender=model, dispatch_uid=f"forget-{model.__name__}-d")
