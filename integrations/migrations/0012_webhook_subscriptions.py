"""One table for which events go to an HTTP integration (issue 18): a subscription is an event
type, narrowed to one template, form or work queue, or to none of them (every one). It
replaces three tables and four `*_all` flags; 0013 carries their rows over, 0014 drops them.
The composite keys keep every reference inside the organization (healix/db.py)."""

import django.db.models.deletion
from django.db import migrations, models

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):
    dependencies = [
        ("healix", "0011_api_auth_failure_window"),
        ("integrations", "0011_inbound_rules_done_at"),
        ("templates", "0004_plain_word_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookSubscription",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_type", models.CharField(choices=[("planCreated", "Plan created"), ("planUpdated", "Plan updated"), ("formSubmitted", "Form submitted"), ("workQueueItemStatusUpdated", "Work queue item status updated")], max_length=40, verbose_name="event")),
                ("form", models.ForeignKey(blank=True, help_text="Form submitted: this form (empty: every form).", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="templates.form")),
                ("integration", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="subscriptions", to="integrations.httpintegration")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="healix.organization")),
                ("template", models.ForeignKey(blank=True, help_text="Plan created / plan updated: this template's plans (empty: every template).", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="templates.plantemplate")),
                ("work_queue", models.ForeignKey(blank=True, help_text="Work queue item status updated: this queue's items (empty: every queue).", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="templates.workqueue")),
            ],
            options={
                "verbose_name": "subscription",
                "ordering": ["integration_id", "event_type", "id"],
            },
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.UniqueConstraint(fields=("organization", "id"), name="integrations_webhooksubscription_organization_id_unique"),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.UniqueConstraint(fields=("integration", "event_type", "template", "form", "work_queue"), name="webhooksubscription_unique", nulls_distinct=False, violation_error_message="The integration has this subscription already."),
        ),
        migrations.AddConstraint(
            model_name="webhooksubscription",
            constraint=models.CheckConstraint(condition=models.Q(models.Q(("event_type__in", ["planCreated", "planUpdated"]), ("form__isnull", True), ("work_queue__isnull", True)), models.Q(("event_type__in", ["formSubmitted"]), ("template__isnull", True), ("work_queue__isnull", True)), models.Q(("event_type__in", ["workQueueItemStatusUpdated"]), ("form__isnull", True), ("template__isnull", True)), _connector="OR"), name="webhooksubscription_scope_fits_event", violation_error_message="This event type cannot be narrowed by that choice."),
        ),
        SameScopeForeignKey("webhooksubscription", "integration"),
        SameScopeForeignKey("webhooksubscription", "template"),
        SameScopeForeignKey("webhooksubscription", "form"),
        SameScopeForeignKey("webhooksubscription", "work_queue"),
    ]
