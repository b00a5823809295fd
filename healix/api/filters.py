"""What every app's query filters share (django-filter): a bad value is a 400 naming it."""

from datetime import UTC

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime


class AwareDateTimeField(forms.DateTimeField):
    """An RFC 3339 date-time with its time zone: a moment, not a wall-clock time."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            as_given = parse_datetime(value.strip())
        except ValueError:
            as_given = None
        if as_given is None or as_given.tzinfo is None:
            raise forms.ValidationError("Give an RFC 3339 date-time with a time zone.")
        # In UTC: PostgreSQL takes offsets up to 15:59 only, and compares moments anyway.
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This date-time is out of range.") from None


class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeField
