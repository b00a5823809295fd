"""The event log in the admin: read-only, one organization's events, filtered by type, plan,
trace id and whether they were published."""

import json
from datetime import datetime

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from events.models import OutboxEvent, OutboxPending, OutboxPublication
from healix.admin.scoping import RecordAdmin

__all__ = ["OutboxEventAdmin"]


class InputFilter(admin.SimpleListFilter):
    """A text box filter on one exact column (ids are too many to list as choices)."""

    template = "admin/events/input_filter.html"
    field_name = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # Django shows a filter only when it has choices

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            return queryset.filter(**{self.field_name: value})
        except (ValidationError, ValueError):  # not a UUID, say: nothing matches
            return queryset.none()

    def choices(self, changelist):
        # The template needs the other query parameters to keep them in its form.
        others = [
            (key, value)
            for key, values in changelist.get_filters_params().items()
            if key != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {"value": self.value() or "", "others": others}


class PlanIdFilter(InputFilter):
    title = "planId"
    parameter_name = "plan_id"
    field_name = "plan_id"


class TraceIdFilter(InputFilter):
    title = "traceId"
    parameter_name = "trace_id"
    field_name = "trace_id"


class PublishedFilter(admin.SimpleListFilter):
    title = "published"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return [("yes", "Published"), ("no", "Waiting")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(pending__isnull=self.value() == "yes")
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(RecordAdmin):
    list_display = (
        "id",
        "occurred_at",
        "event_type",
        "plan_id",
        "trace_id",
        "published_at",
        "attempts",
        "organization",
    )
    list_filter = ("event_type", PublishedFilter, PlanIdFilter, TraceIdFilter, "organization")
    search_fields = ("=event_id", "=plan_id", "=trace_id")
    ordering = ("-id",)
    show_full_result_count = False  # counting a big log on every page is slow
    fields = (
        "id",
        "event_id",
        "event_type",
        "subject",
        "organization",
        "plan_id",
        "trace_id",
        "occurred_at",
        "published_at",
        "attempts",
        "last_error",
        "envelope",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # The relay's bookkeeping, one row of either table an event: joined, not a query a row.
        return super().get_queryset(request).select_related("pending", "publication")

    @admin.display(description="published at", ordering="publication__published_at")
    def published_at(self, obj: OutboxEvent) -> datetime | None:
        publication = _related(obj, "publication")
        return publication.published_at if publication else None

    @admin.display(description="attempts")
    def attempts(self, obj: OutboxEvent) -> int:
        pending = _related(obj, "pending") or _related(obj, "publication")
        return pending.attempts if pending else 0

    @admin.display(description="last error")
    def last_error(self, obj: OutboxEvent) -> str:
        pending = _related(obj, "pending")
        return pending.last_error if pending else ""

    @admin.display(description="envelope")
    def envelope(self, obj: OutboxEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(obj.payload), indent=2))


def _related(obj: OutboxEvent, name: str) -> OutboxPending | OutboxPublication | None:
    """The event's pending or publication row, None when it has none."""
    try:
        return getattr(obj, name)
    except (OutboxPending.DoesNotExist, OutboxPublication.DoesNotExist):
        return None
