"""The admin's forms of HTTP integrations: the integration itself (custom header values
masked), its subscriptions as one formset, and the moment a replay starts from."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.formsets import BaseFormSet

from healix.admin.scoping import ParentOrganizationFormSet
from integrations.models import SUBSCRIPTION_SCOPES, WebhookSubscription
from integrations.webhooks import services as webhook_services
from integrations.webhooks.headers import keep_masked_values, masked_headers, same_origin

__all__ = ["HttpIntegrationAdminForm", "ReplayForm", "SubscriptionFormSet", "kept_rows"]


class HttpIntegrationAdminForm(forms.ModelForm):
    """Custom header values are shown masked; a value left masked keeps the stored one while
    the URL stays on its host (integrations/webhooks/headers.py)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "custom_headers" in self.fields:
            self.initial["custom_headers"] = masked_headers(self.instance.custom_headers)

    def clean_custom_headers(self):
        given = self.cleaned_data.get("custom_headers")
        if self.instance.pk is None:
            return given
        url = self.cleaned_data.get("url") or self.instance.url
        moved = not same_origin(url, self.instance.url)
        return keep_masked_values(given, self.instance.custom_headers, moved=moved)


def kept_rows(formset: BaseFormSet) -> list[dict[str, Any]]:
    """The cleaned rows a valid formset keeps (neither deleted nor left empty)."""
    deleted = formset.deleted_forms if formset.can_delete else []
    return [
        form.cleaned_data for form in formset.forms if form.cleaned_data and form not in deleted
    ]


class SubscriptionFormSet(ParentOrganizationFormSet):
    """The rows as the services take them: per event type, every one or chosen ones."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        scopes: dict[str, list] = {}
        for row in kept_rows(self):
            scope_field = SUBSCRIPTION_SCOPES[row["event_type"]]
            scope = row.get(scope_field)
            if scope in scopes.setdefault(row["event_type"], []):
                twice = WebhookSubscription(event_type=row["event_type"], **{scope_field: scope})
                raise ValidationError(f"“{twice}” is there twice.")
            scopes[row["event_type"]].append(scope)
        for event_type, chosen in scopes.items():
            if None in chosen and len(chosen) > 1:
                every = WebhookSubscription(event_type=event_type)
                raise ValidationError(
                    f"“{every}” takes the chosen ones too: keep either it or them."
                )

    def choices(self) -> dict[str, Any]:
        """Event type -> ALL or the chosen rows (none: []), for webhook_services."""
        chosen: dict[str, Any] = {event_type: [] for event_type in SUBSCRIPTION_SCOPES}
        for row in kept_rows(self):
            scope = row.get(SUBSCRIPTION_SCOPES[row["event_type"]])
            if scope is None:
                chosen[row["event_type"]] = webhook_services.ALL
            else:
                chosen[row["event_type"]].append(scope)
        return chosen


class ReplayForm(forms.Form):
    since = forms.SplitDateTimeField(
        widget=admin.widgets.AdminSplitDateTime,
        help_text="Failed deliveries created at or after this moment are sent again.",
    )
