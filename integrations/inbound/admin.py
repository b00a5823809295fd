"""Integrations in the editor (an inline of the plan template, and each integration's own
page with its fields), and the inbound events, read-only, with a re-run action for rejected
ones and a hand-over again for those the rules failed on."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from healix.admin.scoping import (
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    RecordAdmin,
    json_block,
)
from integrations.inbound import services
from integrations.inbound.schemas import definition_schema
from integrations.models import (
    InboundEvent,
    InboundStatus,
    IntegrationDefinition,
    IntegrationField,
    UnroutableMessage,
)
from integrations.webhooks.admin import HttpIntegrationAdmin, WebhookDeliveryAdmin
from plans.models import Plan
from rules import inbound

__all__ = [
    "HttpIntegrationAdmin",
    "InboundEventAdmin",
    "IntegrationDefinitionAdmin",
    "IntegrationDefinitionInline",
    "UnroutableMessageAdmin",
    "WebhookDeliveryAdmin",
]


class IntegrationDefinitionInline(OrganizationScopedInline):
    """The template editor's "Integrations" list: subject and fields (edited on the
    integration's own page: Django cannot nest inlines)."""

    model = IntegrationDefinition
    fields = ("subject", "description", "field_summary")
    readonly_fields = ("field_summary",)
    show_change_link = True
    verbose_name_plural = "integrations (inbound subjects)"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("fields")

    @admin.display(description="fields")
    def field_summary(self, obj: IntegrationDefinition) -> str:
        if obj.pk is None:
            return "Save first, then edit the fields"
        if obj.raw_schema is not None:
            return "raw JSON Schema"
        fields = obj.fields.all()
        return (
            ", ".join(f"{f.name}: {f.field_type}{'' if f.required else '?'}" for f in fields)
            or "(none)"
        )


class IntegrationFieldInline(OrganizationScopedInline):
    model = IntegrationField
    fields = ("position", "name", "field_type", "required")
    ordering = ("position", "id")


@admin.register(IntegrationDefinition)
class IntegrationDefinitionAdmin(OrganizationScopedAdmin):
    list_display = ("subject", "template", "field_count", "organization")
    list_filter = ("organization", "template")
    list_select_related = ("template",)
    search_fields = ("subject", "template__name")
    fields = ("template", "subject", "description", "raw_schema", "json_schema")
    readonly_fields = ("json_schema",)
    inlines = (IntegrationFieldInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_field_count=Count("fields"))

    @admin.display(description="fields")
    def field_count(self, obj: IntegrationDefinition) -> int:
        return obj._field_count

    @admin.display(description="JSON Schema in effect")
    def json_schema(self, obj: IntegrationDefinition) -> str:
        if obj.pk is None:
            return "-"
        return json_block(definition_schema(obj))


class RulesStateFilter(admin.SimpleListFilter):
    """Where the rules are with an accepted event (rules/inbound.py)."""

    title = "rules"
    parameter_name = "rules"
    STATES = {
        "done": Q(rules_done_at__isnull=False),
        "waiting": Q(
            rules_done_at__isnull=True,
            rules_error="",
            rules_retries__lt=inbound.HANDOFF_MAX_RETRIES,
        ),
        "failing": Q(rules_done_at__isnull=True, rules_retries__lt=inbound.HANDOFF_MAX_RETRIES)
        & ~Q(rules_error=""),
        "given_up": Q(rules_done_at__isnull=True, rules_retries__gte=inbound.HANDOFF_MAX_RETRIES),
    }

    def lookups(self, request, model_admin):
        return [
            ("done", "done"),
            ("waiting", "waiting"),
            ("failing", "failed, will be retried"),
            ("given_up", "given up"),
        ]

    def queryset(self, request, queryset):
        state = self.STATES.get(self.value() or "")
        if state is None:
            return queryset
        return queryset.filter(state, status=InboundStatus.ACCEPTED)


@admin.register(InboundEvent)
class InboundEventAdmin(RecordAdmin):
    list_display = (
        "received_at",
        "subject",
        "status",
        "source",
        "duplicate_count",
        "first_error",
        "organization",
    )
    list_filter = ("status", RulesStateFilter, "subject", "source", "organization")
    search_fields = ("=id", "=trace_id", "subject")
    date_hierarchy = "received_at"
    show_full_result_count = False  # counting a big log on every page is slow
    actions = ("rerun_rejected", "hand_to_rules_again")
    fields = (
        "id",
        "organization",
        "subject",
        "source",
        "status",
        "errors_display",
        "payload_display",
        "payload_pruned_at",
        "raw_body",
        "payload_hash",
        "target_plans",
        "duplicate_count",
        "received_at",
        "last_seen_at",
        "rules_done_at",
        "rules_state",
        "rules_error",
        "rules_retries",
        "rules_retry_at",
        "trace_id",
        "stream_sequence",
    )
    readonly_fields = fields

    @admin.display(description="rules")
    def rules_state(self, obj: InboundEvent) -> str:
        if obj.status != InboundStatus.ACCEPTED:
            return "-"
        if obj.rules_done_at is not None:
            return "done"
        if obj.rules_retries >= inbound.HANDOFF_MAX_RETRIES:
            return "given up: hand it to the rules again once the failure's cause is fixed"
        return "failed, will be retried" if obj.rules_error else "waiting"

    @admin.display(description="target plans")
    def target_plans(self, obj: InboundEvent) -> str:
        """The plans the event was for, by title and linked; an id only for a plan gone since."""
        plans = Plan.objects.filter(pk__in=obj.plan_ids, organization_id=obj.organization_id)
        found = {plan.pk: plan for plan in plans}
        parts = [
            format_html(
                '<a href="{}">{}</a>', reverse("admin:plans_plan_change", args=[pk]), found[pk]
            )
            if pk in found
            else format_html("plan {} (no longer there)", pk)
            for pk in obj.plan_ids
        ]
        return format_html_join(", ", "{}", ((part,) for part in parts)) if parts else "-"

    @admin.display(description="first error")
    def first_error(self, obj: InboundEvent) -> str:
        if not obj.errors:
            return ""
        first = obj.errors[0]
        more = f" (+{len(obj.errors) - 1})" if len(obj.errors) > 1 else ""
        return f"{first.get('pointer')}: {first.get('detail')}{more}"

    @admin.display(description="errors")
    def errors_display(self, obj: InboundEvent) -> str:
        return json_block(obj.errors) if obj.errors else "-"

    @admin.display(description="payload")
    def payload_display(self, obj: InboundEvent) -> str:
        return json_block(obj.payload) if obj.payload is not None else "-"

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_inboundevent")

    @admin.action(description="Re-run selected rejected events", permissions=["rerun"])
    def rerun_rejected(self, request: HttpRequest, queryset) -> None:
        counts = {services.Outcome.ACCEPTED: 0, services.Outcome.DUPLICATE: 0}
        still = 0
        for event in queryset.filter(status=InboundStatus.REJECTED):
            result = services.rerun(event)
            if result.outcome == services.Outcome.REJECTED:
                still += 1
            else:
                counts[result.outcome] += 1
        level = messages.WARNING if still else messages.SUCCESS
        self.message_user(
            request,
            f"Accepted {counts['accepted']}, duplicates of an accepted event "
            f"{counts['duplicate']}, still rejected {still}.",
            level,
        )

    @admin.action(
        description="Hand selected events to the rules again (those not done)",
        permissions=["rerun"],
    )
    def hand_to_rules_again(self, request: HttpRequest, queryset) -> None:
        count = inbound.hand_over_again(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Handed {count} event(s) to the rules again.")


@admin.register(UnroutableMessage)
class UnroutableMessageAdmin(admin.ModelAdmin):
    """Messages naming no known organization belong to no tenant: superusers only."""

    list_display = ("received_at", "subject", "reason")
    fields = readonly_fields = ("subject", "reason", "raw_body", "received_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser
