from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class RulesConfig(AppConfig):
    name = "rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.models import IntegrationDefinition, IntegrationField
        from rules.models import Rule, RuleAction, RuleColumn
        from rules.tables import forget_all
        from templates.models import (
            CustomField,
            Form,
            FormAssignmentDefinition,
            FormField,
            PlanTemplate,
            ServiceLocation,
            WorkQueue,
            WorkQueueStatus,
        )

        # A compiled table reads all of these: this process forgets its tables at once when
        # one changes here (other processes within HEALIX_RULES_TABLE_TTL_SECONDS).
        for model in (
            Rule,
            RuleAction,
            RuleColumn,
            PlanTemplate,
            Form,
            FormField,
            CustomField,
            FormAssignmentDefinition,
            IntegrationDefinition,
            IntegrationField,
            WorkQueue,
            WorkQueueStatus,
            ServiceLocation,
        ):
            name = model.__name__
            post_save.connect(forget_all, sender=model, dispatch_uid=f"rules-forget-{name}")
            post_delete.connect(forget_all, sender=model, dispatch_uid=f"rules-forget-{name}-d")
