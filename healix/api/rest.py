"""What every app's REST API shares: organization scoping, strict request bodies, and the
translation of the services' errors into per-field problem details."""

import contextlib
import math
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView

from healix.api.auth import organization_of

__all__ = [
    "JsonValueField",
    "OrganizationScopedView",
    "StrictSerializer",
    "service_errors",
]


class StrictSerializer(serializers.Serializer):
    """Refuses members it does not know, so a typo is a 400 rather than silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError({name: ["Not a member of this object."] for name in unknown})
        value = super().to_internal_value(data)
        # Object keys too: PostgreSQL's jsonb refuses NUL characters wherever they are.
        problems = {name: [p] for name, item in value.items() if (p := _json_problems(item))}
        if problems:
            raise ValidationError(problems)
        return value


class OrganizationScopedView(GenericAPIView):
    """A resource of the API key's organization only: another organization's rows are simply
    not there (404), whatever their id. Ids that are not UUIDs are 404 too, never 500."""

    model: Any = None
    lookup_url_kwarg = "pk"

    def organization_queryset(self) -> QuerySet:
        return self.model.objects.filter(organization=organization_of(self.request))

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return self.model.objects.none()
        return self.organization_queryset()

    def get_object(self):
        try:
            pk = uuid.UUID(str(self.kwargs[self.lookup_url_kwarg]))
        except ValueError:
            raise NotFound(f"No {self.model._meta.verbose_name} with this id.") from None
        found = self.get_queryset().filter(pk=pk).first()
        if found is None:
            raise NotFound(f"No {self.model._meta.verbose_name} with this id.")
        return found


@contextlib.contextmanager
def service_errors(
    renames: Mapping[str, str] | None = None,
    under: str = "",
    unnamed: str = "non_field_errors",
) -> Iterator[None]:
    """Turn a service's django ValidationError into a 400 with per-field entries.

    `renames` maps the services' field names to the API's (end_date -> endDate). Other names
    go under `under` when given (form data errors are keyed by form field), else stay as they
    are. Errors of no field point at the body itself, or at `unnamed` when the caller knows
    which field they are about (a model constraint over several fields names none)."""
    renames = renames or {}
    try:
        yield
    except DjangoValidationError as error:
        if not hasattr(error, "error_dict"):
            raise ValidationError({unnamed: error.messages}) from None
        detail: dict[str, Any] = {}
        for name, errors in error.error_dict.items():
            messages = [message for e in errors for message in e.messages]
            if name in renames:
                detail[renames[name]] = messages
            elif name == NON_FIELD_ERRORS:
                detail.setdefault(unnamed, []).extend(messages)
            elif under:
                detail.setdefault(under, {})[name] = messages
            else:
                detail[name] = messages
        raise ValidationError(detail) from None


def _json_problems(value: Any) -> str | None:
    """Why PostgreSQL's jsonb would refuse `value` (NUL characters, non-finite numbers)."""
    if isinstance(value, str):
        return "Text may not contain NUL (\\u0000) characters." if "\x00" in value else None
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite."
    if isinstance(value, Mapping):
        for key, item in value.items():
            if problem := _json_problems(key) or _json_problems(item):
                return problem
    if isinstance(value, list):
        for item in value:
            if problem := _json_problems(item):
                return problem
    return None


class JsonValueField(serializers.JSONField):
    """Any JSON value that can be stored: refused with a 400 when it holds what jsonb cannot."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if problem := _json_problems(value):
            raise ValidationError(problem)
        return value
