"""Every chosen template, form and work queue, and every `*_all` flag, becomes a subscription;
backwards, every subscription becomes its old row or flag again. Rows already there on either
side are left alone (ON CONFLICT DO NOTHING), so a partly run migration can run again."""

from django.db import migrations

# The old flags -> the event type whose every-one subscription they were.
FLAGS = {
    "plan_created_all": "planCreated",
    "plan_updated_all": "planUpdated",
    "form_submitted_all": "formSubmitted",
    "status_updated_all": "workQueueItemStatusUpdated",
}
# The old tables -> (their scope column, the event type; None: the row's own event_type).
TABLES = {
    "HttpIntegrationTemplate": ("template", None),
    "HttpIntegrationForm": ("form", "formSubmitted"),
    "HttpIntegrationWorkQueue": ("work_queue", "workQueueItemStatusUpdated"),
}
BATCH = 1000


def to_subscriptions(apps, schema_editor) -> None:
    integration = apps.get_model("integrations", "HttpIntegration")
    subscription = apps.get_model("integrations", "WebhookSubscription")
    rows = []
    for flag, event_type in FLAGS.items():
        for integration_id, organization_id in integration.objects.filter(
            **{flag: True}
        ).values_list("id", "organization_id"):
            rows.append(
                subscription(
                    organization_id=organization_id,
                    integration_id=integration_id,
                    event_type=event_type,
                )
            )
    for name, (scope, event_type) in TABLES.items():
        for old in apps.get_model("integrations", name).objects.all().iterator(BATCH):
            rows.append(
                subscription(
                    organization_id=old.organization_id,
                    integration_id=old.integration_id,
                    event_type=event_type or old.event_type,
                    **{f"{scope}_id": getattr(old, f"{scope}_id")},
                )
            )
    subscription.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)


def from_subscriptions(apps, schema_editor) -> None:
    integration = apps.get_model("integrations", "HttpIntegration")
    subscriptions = apps.get_model("integrations", "WebhookSubscription").objects.all()
    every = subscriptions.filter(template=None, form=None, work_queue=None)
    for flag, event_type in FLAGS.items():
        chosen = every.filter(event_type=event_type).values("integration_id")
        integration.objects.filter(pk__in=chosen).update(**{flag: True})
    for name, (scope, event_type) in TABLES.items():
        model = apps.get_model("integrations", name)
        rows = [
            model(
                organization_id=row.organization_id,
                integration_id=row.integration_id,
                **({} if event_type else {"event_type": row.event_type}),
                **{f"{scope}_id": getattr(row, f"{scope}_id")},
            )
            for row in subscriptions.filter(**{f"{scope}__isnull": False}).iterator(BATCH)
        ]
        model.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0012_webhook_subscriptions"),
    ]

    operations = [
        migrations.RunPython(to_subscriptions, from_subscriptions),
    ]
