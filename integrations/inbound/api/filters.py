"""Query filters of the inbound resources (django-filter); a bad value is a 400 naming it."""

import django_filters

from healix.api.filters import AwareDateTimeFilter
from integrations.models import InboundEvent, InboundStatus, IntegrationDefinition

__all__ = ["InboundEventFilter", "IntegrationDefinitionFilter"]


class InboundEventFilter(django_filters.FilterSet):
    subject = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=InboundStatus.choices)
    since = AwareDateTimeFilter(field_name="received_at", lookup_expr="gte")

    class Meta:
        model = InboundEvent
        fields = ["subject", "status", "since"]


class IntegrationDefinitionFilter(django_filters.FilterSet):
    subject = django_filters.CharFilter()
    templateName = django_filters.CharFilter(field_name="template__name")

    class Meta:
        model = IntegrationDefinition
        fields = ["subject", "templateName"]
