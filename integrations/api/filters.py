"""Query filters of the inbound resources (django-filter); a bad value is a 400 naming it."""

import django_filters
from django import forms

from integrations.models import InboundEvent, InboundStatus, IntegrationDefinition

__all__ = ["InboundEventFilter", "IntegrationDefinitionFilter"]


class AwareDateTimeField(forms.DateTimeField):
    """An RFC 3339 date-time with its time zone: a moment, not a wall-clock time."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and moment.tzinfo is None and "Z" not in value and "+" not in value:
            raise forms.ValidationError("Give an RFC 3339 date-time with a time zone.")
        return moment


class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeField


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
