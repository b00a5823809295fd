"""The admin of HTTP integrations ("Manage HTTP Integrations") and their delivery log.

Thin: saving, rotating, test events, retries and replays call integrations/webhooks/services.py.
The secret is shown once, in a message, when the integration is created or its secret rotated.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from healix.admin.display import short_time
from healix.admin.scoping import (
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    RecordAdmin,
    is_platform_admin,
    json_block,
)
from integrations.models import (
    DeliveryStatus,
    HttpIntegration,
    HttpIntegrationCondition,
    HttpIntegrationEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from integrations.webhooks import services as webhook_services
from integrations.webhooks.admin_forms import (
    HttpIntegrationAdminForm,
    ReplayForm,
    SubscriptionFormSet,
    kept_rows,
)
from integrations.webhooks.headers import masked_headers

__all__ = ["HttpIntegrationAdmin", "WebhookDeliveryAdmin"]


def _show_secret_once(request: HttpRequest, integration: HttpIntegration, secret: str) -> None:
    messages.warning(
        request,
        format_html(
            "Signing secret of {}: <code>{}</code> — copy it now, it is not shown again.",
            integration,
            secret,
        ),
    )


class SubscriptionInline(OrganizationScopedInline):
    model = WebhookSubscription
    formset = SubscriptionFormSet
    fields = ("event_type", "template", "form", "work_queue")
    verbose_name_plural = (
        "subscriptions: one row per event type, narrowed to one template, form or work queue "
        "(left empty: every one)"
    )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "form":
            formfield.queryset = formfield.queryset.select_related("template")
            formfield.label_from_instance = lambda form: f"{form.template} / {form}"
        return formfield


class ConditionInline(OrganizationScopedInline):
    model = HttpIntegrationCondition
    fields = ("path", "field_type", "cell")
    verbose_name_plural = "payload condition (every row must hold)"


class OperationalEventInline(OrganizationScopedInline):
    model = HttpIntegrationEvent
    fields = ("occurred_at", "kind", "detail")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "operational events"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HttpIntegration)
class HttpIntegrationAdmin(OrganizationScopedAdmin):
    list_display = (
        "partner_name",
        "url",
        "is_active",
        "failing_since",
        "deliveries_link",
        "organization",
    )
    list_filter = ("is_active", "organization")
    search_fields = ("partner_name", "url")
    readonly_fields = (
        "secret_hint",
        "masked_custom_headers",
        "failing_since",
        "disabled_reason",
        "deliveries_link",
    )
    fieldsets = (
        (None, {"fields": ("organization", "partner_name", "url", "is_active")}),
        (
            "Which events go there",
            {
                "fields": ("include_test_events",),
                "description": "Add a subscription below for each event type to send, with "
                "a template, form or work queue, or none for every one. An event type without "
                "a subscription sends nothing.",
            },
        ),
        ("Request", {"fields": ("custom_headers", "secret_hint")}),
        ("Health", {"fields": ("failing_since", "disabled_reason", "deliveries_link")}),
    )
    inlines = (
        SubscriptionInline,
        ConditionInline,
        OperationalEventInline,
    )
    actions = ("send_test_event", "rotate_secret", "replay_failed")
    form = HttpIntegrationAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request, obj=None):
        # An integration stays where its subscriptions and deliveries are (the services
        # take no organization on update).
        readonly = super().get_readonly_fields(request, obj)
        moving = obj is not None and is_platform_admin(request)
        return [*readonly, "organization"] if moving else readonly

    def get_fieldsets(self, request, obj=None):
        # Read-only, the field would show its values: a masked copy stands in for it.
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        swap = {"custom_headers": "masked_custom_headers"}
        return [
            (name, {**options, "fields": [swap.get(f, f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    @admin.display(description="custom headers")
    def masked_custom_headers(self, obj: HttpIntegration) -> str:
        return json_block(masked_headers(obj.custom_headers))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"title": "Manage HTTP Integrations", **(extra_context or {})}
        )

    @admin.display(description="secret")
    def secret_hint(self, obj: HttpIntegration) -> str:
        if not obj.secret:
            return "Generated when you save; shown once."
        return f"{obj.secret[:10]}… (shown once; use “Rotate secret” for a new one)"

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: HttpIntegration) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:integrations_webhookdelivery_changelist")
        return format_html('<a href="{}?integration__id__exact={}">Deliveries</a>', url, obj.pk)

    def save_model(self, request, obj, form, change) -> None:
        """Nothing yet: save_related() saves it with its inline rows, through the services."""

    def save_related(self, request, form, formsets, change) -> None:
        # Through the services, like the REST API: the same checks, one secret generator.
        for formset in formsets:
            formset.save(commit=False)  # no writes: the lists the change message reads
        choices = {}
        for formset in formsets:
            if formset.model is WebhookSubscription:
                choices["subscriptions"] = formset.choices()
            elif formset.model is HttpIntegrationCondition:
                choices["conditions"] = [
                    webhook_services.ConditionSpec(row["path"], row["field_type"], row["cell"])
                    for row in kept_rows(formset)
                ]
        fields = {
            name: form.cleaned_data[name]
            for name in webhook_services.INTEGRATION_FIELDS
            if name in form.cleaned_data
        }
        obj = form.instance
        if change:
            stored = HttpIntegration.objects.get(pk=obj.pk)
            webhook_services.update_integration(stored, **fields, **choices)
            return
        if not is_platform_admin(request):
            obj.organization = request.user.organization
        integration, secret = webhook_services.create_integration(
            obj.organization, **fields, **choices
        )
        obj.pk = integration.pk  # the page after saving and the log entry name the new row
        request._healix_new_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_healix_new_secret", None)
        if secret:
            _show_secret_once(request, obj, secret)
        return super().response_add(request, obj, post_url_continue)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_httpintegration")

    @admin.action(description="Send a test event", permissions=["manage"])
    def send_test_event(self, request: HttpRequest, queryset) -> None:
        for integration in queryset:
            webhook_services.send_test_event(integration, request.user)
        self.message_user(
            request, f"Test event queued for {queryset.count()} integration(s).", messages.SUCCESS
        )

    @admin.action(
        description="Rotate secret (the old one signs for 24 h more)", permissions=["manage"]
    )
    def rotate_secret(self, request: HttpRequest, queryset) -> None:
        for integration in queryset:
            _show_secret_once(request, integration, webhook_services.rotate_secret(integration))

    @admin.action(description="Replay failed deliveries since…", permissions=["manage"])
    def replay_failed(self, request: HttpRequest, queryset):
        form = ReplayForm(request.POST if "since_0" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = sum(
                webhook_services.replay_failed_since(integration, form.cleaned_data["since"])
                for integration in queryset
            )
            self.message_user(request, f"{count} failed deliveries queued again.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/integrations/replay_failed.html",
            {
                **self.admin_site.each_context(request),
                "title": "Replay failed deliveries since…",
                "opts": self.model._meta,
                "integrations": queryset,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media + form.media,
            },
        )


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "outcome",
        "error",
        "response_headers",
        "response_body",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    list_display = (
        "created",
        "integration",
        "event_type",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt",
        "organization",
    )
    list_filter = ("status", "event_type", "integration", "organization")
    list_select_related = ("integration",)
    search_fields = ("=event_id", "=trace_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "id",
        "organization",
        "integration",
        "event_id",
        "event_type",
        "trace_id",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "completed_at",
        "payload_display",
    )
    readonly_fields = fields
    inlines = (AttemptInline,)
    actions = ("retry_now",)

    # Dates as 2026-12-04 12:49:05 in the list: the long form ("Dec. 4, 2026, 12:49 p.m.") pushed
    # the last columns out of a 1366 px window.
    @admin.display(description="created", ordering="created_at")
    def created(self, obj: WebhookDelivery) -> str:
        return short_time(obj.created_at)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj: WebhookDelivery) -> str:
        return short_time(obj.next_attempt_at)

    @admin.display(description="payload")
    def payload_display(self, obj: WebhookDelivery) -> str:
        # The body as sent is a compact JSON text (what was signed): shown indented, wrapped.
        try:
            return json_block(json.loads(obj.payload))
        except (TypeError, ValueError):
            return json_block(obj.payload)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_webhookdelivery")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset) -> None:
        queued = sum(
            webhook_services.retry_delivery(delivery)
            for delivery in queryset.exclude(status=DeliveryStatus.SUCCEEDED)
        )
        skipped = queryset.count() - queued
        self.message_user(
            request,
            f"{queued} deliveries queued now"
            + (f"; {skipped} left alone (succeeded or being sent)." if skipped else "."),
            messages.SUCCESS,
        )
