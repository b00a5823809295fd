"""Migrations 0012-0014: the old choices (three tables and four `*_all` flags) become
subscriptions, and come back exactly when the migrations are reversed; against the real
PostgreSQL, with Django's MigrationExecutor."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from healix.db import constraint_name
from integrations.models import WebhookSubscription
from integrations.webhooks.api.serializers import WebhookSerializer

BEFORE = [("integrations", "0011_inbound_rules_done_at")]
TABLE_ONLY = [("integrations", "0012_webhook_subscriptions")]
CARRIED = [("integrations", "0013_carry_webhook_choices")]
PUBLIC_URL = "https://93.184.215.14/hooks"
FLAGS = ("plan_created_all", "plan_updated_all", "form_submitted_all", "status_updated_all")


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def old_models(targets) -> dict:
    """The integrations app's models as they were at `targets`, by name."""
    apps = MigrationExecutor(connection).loader.project_state(targets).apps
    return {model.__name__: model for model in apps.get_app_config("integrations").get_models()}


def old_choices(targets) -> dict:
    """Every old choice as plain tuples: the flags, then the rows of the three tables."""
    models = old_models(targets)
    return {
        "flags": set(models["HttpIntegration"].objects.values_list("partner_name", *FLAGS)),
        "templates": set(
            models["HttpIntegrationTemplate"].objects.values_list(
                "organization_id", "integration__partner_name", "event_type", "template_id"
            )
        ),
        "forms": set(
            models["HttpIntegrationForm"].objects.values_list(
                "organization_id", "integration__partner_name", "form_id"
            )
        ),
        "work_queues": set(
            models["HttpIntegrationWorkQueue"].objects.values_list(
                "organization_id", "integration__partner_name", "work_queue_id"
            )
        ),
    }


def same_scope_keys(targets) -> set[str]:
    """The names of the composite (same-organization) keys of the three old tables."""
    names = set()
    with connection.cursor() as cursor:
        for name in ("HttpIntegrationTemplate", "HttpIntegrationForm", "HttpIntegrationWorkQueue"):
            table = old_models(targets)[name]._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            names |= {key for key, info in found.items() if info["foreign_key"] and "_same_" in key}
    return names


def store_old_choices(org, other_org, template, work_queue, other_template) -> None:
    """Integrations as they were stored before subscriptions, every kind of choice."""
    models = old_models(BEFORE)
    integration = models["HttpIntegration"]
    mine = integration.objects.create(
        organization_id=org.pk,
        partner_name="mine",
        url=PUBLIC_URL,
        secret="whsec_mine",
        plan_created_all=True,
        status_updated_all=True,
    )
    theirs = integration.objects.create(
        organization_id=other_org.pk,
        partner_name="theirs",
        url=PUBLIC_URL,
        secret="whsec_theirs",
        form_submitted_all=True,
        plan_updated_all=True,
    )
    integration.objects.create(
        organization_id=org.pk, partner_name="nothing", url=PUBLIC_URL, secret="whsec_none"
    )
    chosen = models["HttpIntegrationTemplate"]
    # planCreated both "all" and one template: the old admin allowed it; both are carried
    chosen.objects.create(
        organization_id=org.pk, integration=mine, event_type="planCreated", template_id=template.pk
    )
    chosen.objects.create(
        organization_id=org.pk, integration=mine, event_type="planUpdated", template_id=template.pk
    )
    chosen.objects.create(
        organization_id=other_org.pk,
        integration=theirs,
        event_type="planCreated",
        template_id=other_template.pk,
    )
    models["HttpIntegrationForm"].objects.create(
        organization_id=org.pk, integration=mine, form_id=template.forms.get(name="intake").pk
    )
    models["HttpIntegrationWorkQueue"].objects.create(
        organization_id=org.pk, integration=mine, work_queue_id=work_queue.pk
    )


@pytest.mark.django_db(transaction=True)
def test_every_old_choice_becomes_a_subscription_and_comes_back(
    org, other_org, template, work_queue, other_template
):
    intake = template.forms.get(name="intake")
    try:
        # Given the choices as stored before subscriptions
        migrate(BEFORE)
        store_old_choices(org, other_org, template, work_queue, other_template)
        before = old_choices(BEFORE)

        # When the migrations run
        migrate(None)

        # Then each flag is a subscription of every one, each old row a narrowed one
        rows = set(
            WebhookSubscription.objects.values_list(
                "organization_id",
                "integration__partner_name",
                "event_type",
                "template_id",
                "form_id",
                "work_queue_id",
            )
        )
        assert rows == {
            (org.pk, "mine", "planCreated", None, None, None),
            (org.pk, "mine", "workQueueItemStatusUpdated", None, None, None),
            (org.pk, "mine", "planCreated", template.pk, None, None),
            (org.pk, "mine", "planUpdated", template.pk, None, None),
            (org.pk, "mine", "formSubmitted", None, intake.pk, None),
            (org.pk, "mine", "workQueueItemStatusUpdated", None, None, work_queue.pk),
            (other_org.pk, "theirs", "formSubmitted", None, None, None),
            (other_org.pk, "theirs", "planUpdated", None, None, None),
            (other_org.pk, "theirs", "planCreated", other_template.pk, None, None),
        }
        # And the API reads them as it read the old choices ("all" covers a template too)
        shown = WebhookSerializer(
            WebhookSubscription.objects.get(template=template, event_type="planUpdated").integration
        ).data
        assert (shown["planCreated"], shown["planUpdated"]) == ("all", [template.pk])
        assert (shown["formSubmitted"], shown["statusUpdated"]) == ([intake.pk], "all")

        # When they are reversed
        migrate(BEFORE)

        # Then the old tables and flags hold exactly what they held
        assert old_choices(BEFORE) == before
        # And PostgreSQL keeps the old rows inside their organization again
        assert same_scope_keys(BEFORE) == {
            constraint_name(f"integrations_{table}", column, "organization_id")
            for table, column in [
                ("httpintegrationtemplate", "integration_id"),
                ("httpintegrationtemplate", "template_id"),
                ("httpintegrationform", "integration_id"),
                ("httpintegrationform", "form_id"),
                ("httpintegrationworkqueue", "integration_id"),
                ("httpintegrationworkqueue", "work_queue_id"),
            ]
        }
    finally:
        migrate(None)


@pytest.mark.django_db(transaction=True)
def test_reversing_the_carry_alone_leaves_the_old_rows_as_they_are(
    org, other_org, template, work_queue, other_template
):
    try:
        # Given the old choices, carried over while their tables still exist
        migrate(BEFORE)
        store_old_choices(org, other_org, template, work_queue, other_template)
        before = old_choices(BEFORE)
        migrate(CARRIED)
        assert WebhookSubscription.objects.count() == 9
        # When only the carry is reversed (its rows are in both places), then run again
        migrate(TABLE_ONLY)
        assert old_choices(TABLE_ONLY) == before
        migrate(CARRIED)
        # Then nothing is there twice, on either side
        assert WebhookSubscription.objects.count() == 9
        migrate(TABLE_ONLY)
        assert old_choices(TABLE_ONLY) == before
    finally:
        migrate(None)
