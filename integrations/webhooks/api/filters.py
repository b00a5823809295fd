"""Query filters of the webhook resources (django-filter); a bad value is a 400 naming it."""

import django_filters

from integrations.models import DeliveryStatus, WebhookDelivery

__all__ = ["WebhookDeliveryFilter"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    eventType = django_filters.CharFilter(field_name="event_type")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "eventType"]
