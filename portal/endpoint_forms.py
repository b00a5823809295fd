"""The endpoint form of the portal, spoken in the REST API's words: a POST of the form is
turned into the API's request body, validated by the API's serializers and resolved by the
API's webhook_changes(), then handed to the same services. So the portal has no rules of its
own about filters, and changes with the API when the API changes."""

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from healix.api.problems import validation_errors
from healix.api.rest import service_errors
from healix.models import Organization
from integrations.models import HttpIntegration
from integrations.webhooks import services as webhook_services
from integrations.webhooks.api.serializers import (
    CHOICE_FIELDS,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from integrations.webhooks.api.views import WEBHOOK_FIELDS, webhook_changes
from portal.models import Partner
from templates.models import Form, PlanTemplate, WorkQueue

__all__ = ["choice_options", "create_endpoint", "current_values", "update_endpoint"]

ALL = webhook_services.ALL
# What a condition row of the form holds, in the API's names.
CONDITION_ROWS = 3


def choice_options(organization_id: int) -> dict[str, list[tuple[int, str]]]:
    """(id, label) of what each event type's choice may name: the organization's own."""
    templates = [
        (t.pk, t.name) for t in PlanTemplate.objects.filter(organization_id=organization_id)
    ]
    forms = [
        (f.pk, f"{f.template.name} / {f.name}")
        for f in Form.objects.filter(organization_id=organization_id).select_related("template")
    ]
    queues = [(q.pk, q.name) for q in WorkQueue.objects.filter(organization_id=organization_id)]
    by_kind = {"template": templates, "form": forms, "work queue": queues}
    return {name: by_kind[kind] for name, (_keyword, kind) in CHOICE_FIELDS.items()}


def current_values(integration: HttpIntegration) -> dict[str, Any]:
    """The endpoint as the API reads it (never a secret; header values masked)."""
    return dict(WebhookSerializer(integration).data)


def api_body(post: QueryDict) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The API's request body from the form's fields (named as the API's members), and the
    problems of what the form itself could not read (headers that are not a JSON object)."""
    body: dict[str, Any] = {
        "url": post.get("url", "").strip(),
        "isActive": post.get("isActive") == "on",
        "includeTestEvents": post.get("includeTestEvents") == "on",
    }
    problems = []
    headers = post.get("customHeaders", "").strip()
    if headers:
        try:
            body["customHeaders"] = json.loads(headers)
        except ValueError:
            problems.append({"pointer": "#/customHeaders", "detail": "Not a JSON object."})
    else:
        body["customHeaders"] = {}
    for name in CHOICE_FIELDS:
        if post.get(f"{name}Mode") == ALL:
            body[name] = ALL
        else:
            body[name] = [int(pk) for pk in post.getlist(name) if pk.isdigit()]
    conditions = []
    for index in range(int(post.get("conditionRows", CONDITION_ROWS) or 0)):
        path, field_type, cell = (
            post.get(f"conditions-{index}-{part}", "").strip() for part in ("path", "type", "cell")
        )
        if path or cell:
            conditions.append({"path": path, "fieldType": field_type, "cell": cell})
    body["conditions"] = conditions
    return body, problems


def _problems(error: ValidationError) -> list[dict[str, str]]:
    return validation_errors(error.detail)


def create_endpoint(
    partner: Partner, post: QueryDict
) -> tuple[HttpIntegration | None, str, list[dict[str, str]]]:
    """(integration, secret, []) or (None, "", problems at their JSON pointers)."""
    body, problems = api_body(post)
    if problems:
        return None, "", problems
    organization = Organization.objects.get(pk=partner.organization_id)
    try:
        given = WebhookCreateSerializer(data={**body, "partnerName": partner.name})
        given.is_valid(raise_exception=True)
        changes = webhook_changes(organization, given.validated_data)
        with service_errors(WEBHOOK_FIELDS):
            integration, secret = webhook_services.create_integration(
                organization, partner_id=partner.pk, **changes
            )
    except ValidationError as error:
        return None, "", _problems(error)
    return integration, secret, []


def update_endpoint(integration: HttpIntegration, post: QueryDict) -> list[dict[str, str]]:
    """Change the endpoint as the form says; the problems, or [] once saved."""
    body, problems = api_body(post)
    if problems:
        return problems
    try:
        given = WebhookUpdateSerializer(data=body)
        given.is_valid(raise_exception=True)
        changes = webhook_changes(integration.organization, given.validated_data)
        with service_errors(WEBHOOK_FIELDS):
            webhook_services.update_integration(integration, **changes)
    except (ValidationError, DjangoValidationError) as error:
        if isinstance(error, DjangoValidationError):
            return [{"pointer": "#", "detail": m} for m in error.messages]
        return _problems(error)
    return []
