"""/api/v1/webhooks/ (HTTP integrations), .../<id>/deliveries/, .../<id>/test/,
.../<id>/rotate-secret/ and /api/v1/deliveries/<id>/retry/. Scope webhooks:admin for all.

Thin: every write calls integrations.webhooks.services, like the admin. Everything is scoped to
the key's organization: another organization's webhooks and deliveries are 404, and a template,
form or work queue id that is not the organization's own is a 400 naming where it was given.
DELETE removes the integration with its delivery log; PATCH {"isActive": false} pauses it.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from healix.api.auth import actor_of, organization_of
from healix.api.idempotency import idempotent
from healix.api.openapi import PROBLEM_MEDIA_TYPE
from healix.api.problems import problem_response
from healix.api.rest import OrganizationScopedView, service_errors
from healix.api.scopes import Scope
from healix.models import Organization
from integrations.models import HttpIntegration, WebhookAttempt, WebhookDelivery
from integrations.webhooks import services as webhook_services
from integrations.webhooks.api.filters import WebhookDeliveryFilter
from integrations.webhooks.api.serializers import (
    CHOICE_FIELDS,
    RotatedSecretSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from integrations.webhooks.headers import MASK
from templates.models import Form, PlanTemplate, WorkQueue

__all__ = [
    "DeliveryRetryView",
    "WebhookDeliveryListView",
    "WebhookDetailView",
    "WebhookListView",
    "WebhookRotateSecretView",
    "WebhookTestView",
    "webhook_changes",
]

# The services' (and the model's) field names -> the API's.
WEBHOOK_FIELDS = {
    "partner_name": "partnerName",
    "url": "url",
    "is_active": "isActive",
    "include_test_events": "includeTestEvents",
    "custom_headers": "customHeaders",
}
ATTRIBUTES = {api: name for name, api in WEBHOOK_FIELDS.items()}
CHOSEN_MODELS = {"template": PlanTemplate, "form": Form, "work queue": WorkQueue}

SEED_WEBHOOK_EXAMPLE = OpenApiExample(
    "Acme Scheduling: every new plan, status changes of one queue",
    value={
        "partnerName": "Acme Scheduling",
        "url": "https://hooks.acme.example/healix",
        "customHeaders": {"X-Api-Key": "acme-tenant-42"},
        "planCreated": "all",
        "statusUpdated": [7],
        "conditions": [{"path": "status", "fieldType": "text", "cell": "in[done,cancelled]"}],
    },
    request_only=True,
)
CREATED_EXAMPLE = OpenApiExample(
    "Registered: the secret, this once",
    value={
        "id": "4f0c2b1e-9a53-4a8e-b1b2-6d1f0c7e5a10",
        "partnerName": "Acme Scheduling",
        "url": "https://hooks.acme.example/healix",
        "isActive": True,
        "includeTestEvents": False,
        "customHeaders": {"X-Api-Key": MASK},
        "planCreated": "all",
        "planUpdated": [],
        "formSubmitted": [],
        "statusUpdated": [7],
        "conditions": [{"path": "status", "fieldType": "text", "cell": "in[done,cancelled]"}],
        "previousSecretExpiresAt": None,
        "failingSince": None,
        "disabledReason": "",
        "createdAt": "2026-11-23T09:30:00Z",
        "updatedAt": "2026-11-23T09:30:00Z",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    },
    response_only=True,
    status_codes=["201"],
)
ROTATED_EXAMPLE = OpenApiExample(
    "Rotated",
    value={
        "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "previousSecretExpiresAt": "2026-11-24T09:30:00Z",
    },
    response_only=True,
)
CONFLICT = OpenApiResponse(
    response={"$ref": "#/components/schemas/Problem"},
    description="The delivery succeeded already, or a worker is sending it at this moment.",
)

IN_FLIGHT = OpenApiResponse(
    response={"$ref": "#/components/schemas/Problem"},
    description="A worker is sending one of the webhook's deliveries at this moment.",
)


def _webhooks(request: Request):
    return HttpIntegration.objects.filter(organization=organization_of(request)).prefetch_related(
        "subscriptions", "conditions"
    )


def _changes(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    return webhook_changes(organization_of(request), data)


def webhook_changes(organization: Organization, data: dict[str, Any]) -> dict[str, Any]:
    """The validated body as the services' keywords, with the chosen ids turned into the
    organization's own rows; any id that is not one of them is a 400 at its place. The
    partner portal (portal/) sends its forms through here too."""
    changes: dict[str, Any] = {
        ATTRIBUTES[name]: value for name, value in data.items() if name in ATTRIBUTES
    }
    problems: dict[str, Any] = {}
    subscriptions: dict[str, Any] = {}
    for name, (event_type, kind) in CHOICE_FIELDS.items():
        if name not in data:
            continue
        choice = data[name]
        if choice == webhook_services.ALL:
            subscriptions[event_type] = choice
            continue
        found = CHOSEN_MODELS[kind].objects.filter(organization=organization, pk__in=choice)
        rows = {row.pk: row for row in found}
        unknown = {
            str(index): [f"No {kind} {pk} here."]
            for index, pk in enumerate(choice)
            if pk not in rows
        }
        if unknown:
            problems[name] = unknown
        subscriptions[event_type] = [rows[pk] for pk in choice if pk in rows]
    if subscriptions:
        changes["subscriptions"] = subscriptions
    if problems:
        raise ValidationError(problems)
    if "conditions" in data:
        changes["conditions"] = [
            webhook_services.ConditionSpec(c["path"], c["fieldType"], c["cell"])
            for c in data["conditions"]
        ]
    return changes


class WebhookListView(mixins.ListModelMixin, OrganizationScopedView):
    model = HttpIntegration
    serializer_class = WebhookSerializer
    cursor_ordering = ("-created_at", "id")
    read_scope = Scope.WEBHOOKS_ADMIN
    write_scope = Scope.WEBHOOKS_ADMIN

    def organization_queryset(self):
        return _webhooks(self.request)

    @extend_schema(summary="List the organization's webhooks (HTTP integrations), newest first")
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Register a webhook",
        description="The answer carries the signing `secret`, shown this once. The URL must "
        "resolve to a public address; template, form and work queue ids must be the "
        "organization's own.",
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer},
        examples=[SEED_WEBHOOK_EXAMPLE, CREATED_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        given = WebhookCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = _changes(request, given.validated_data)
        with service_errors(WEBHOOK_FIELDS):
            webhook, secret = webhook_services.create_integration(
                organization_of(request), partner_id=request.auth.partner_id, **changes
            )
        body = WebhookSerializer(_webhooks(request).get(pk=webhook.pk)).data
        return Response(
            {**body, "secret": secret},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/webhooks/{webhook.pk}/"},
        )


class WebhookDetailView(OrganizationScopedView):
    model = HttpIntegration
    serializer_class = WebhookSerializer
    read_scope = Scope.WEBHOOKS_ADMIN
    write_scope = Scope.WEBHOOKS_ADMIN

    def organization_queryset(self):
        return _webhooks(self.request)

    @extend_schema(summary="Read a webhook (never its secret)")
    def get(self, request: Request, pk: str) -> Response:
        return Response(WebhookSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change a webhook",
        description="Only the given members change; an event choice or `conditions` given "
        "replaces the previous one. `isActive: true` re-activates a webhook Healix disabled.",
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer},
    )
    def patch(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        given = WebhookUpdateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = _changes(request, given.validated_data)
        with service_errors(WEBHOOK_FIELDS):
            webhook_services.update_integration(webhook, **changes)
        return Response(WebhookSerializer(self.get_queryset().get(pk=webhook.pk)).data)

    @extend_schema(
        summary="Delete a webhook and its delivery log",
        description='To pause a webhook and keep its log, PATCH {"isActive": false} instead.',
        responses={204: None, (409, PROBLEM_MEDIA_TYPE): IN_FLIGHT},
    )
    def delete(self, request: Request, pk: str) -> Response:
        try:
            webhook_services.delete_integration(self.get_object())
        except DjangoValidationError as error:
            return problem_response(
                status.HTTP_409_CONFLICT,
                "Webhook not deleted",
                " ".join(error.messages),
                "webhook-delivery-in-flight",
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestView(OrganizationScopedView):
    model = HttpIntegration
    serializer_class = WebhookDeliverySerializer
    write_scope = Scope.WEBHOOKS_ADMIN

    @extend_schema(
        summary="Send a test event to the webhook now",
        description="A `webhookTest` event, signed like any other, delivered also when the "
        "webhook is inactive. The answer is its delivery; follow it under deliveries/.",
        request=None,
        responses={201: WebhookDeliverySerializer},
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        delivery = webhook_services.send_test_event(self.get_object(), actor=actor_of(request))
        return Response(
            WebhookDeliverySerializer(_deliveries(request).get(pk=delivery.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class WebhookRotateSecretView(OrganizationScopedView):
    model = HttpIntegration
    serializer_class = RotatedSecretSerializer
    write_scope = Scope.WEBHOOKS_ADMIN

    @extend_schema(
        summary="Rotate the webhook's signing secret",
        description="The answer carries the new secret, shown this once. Until "
        "`previousSecretExpiresAt` every delivery is signed with both secrets, so the "
        "receiver can switch without missing a message.",
        request=None,
        responses={200: RotatedSecretSerializer},
        examples=[ROTATED_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        secret = webhook_services.rotate_secret(webhook)
        webhook.refresh_from_db(fields=["previous_secret_expires_at"])
        return Response(
            {"secret": secret, "previousSecretExpiresAt": webhook.previous_secret_expires_at}
        )


def _deliveries(request: Request):
    return WebhookDelivery.objects.filter(organization=organization_of(request)).prefetch_related(
        Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number"))
    )


class WebhookDeliveryListView(mixins.ListModelMixin, OrganizationScopedView):
    model = HttpIntegration  # the URL names the webhook; the list is of its deliveries
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    cursor_ordering = ("-created_at", "id")
    read_scope = Scope.WEBHOOKS_ADMIN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return WebhookDelivery.objects.none()
        return super().get_queryset()

    @extend_schema(summary="List a webhook's deliveries with their attempts, newest first")
    def get(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        deliveries = self.filter_queryset(_deliveries(request).filter(integration=webhook))
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class DeliveryRetryView(OrganizationScopedView):
    model = WebhookDelivery
    serializer_class = WebhookDeliverySerializer
    write_scope = Scope.WEBHOOKS_ADMIN

    def organization_queryset(self):
        return _deliveries(self.request)

    @extend_schema(
        summary="Attempt a failed or waiting delivery now",
        description="The delivery is pending again, due now, with a fresh retry schedule.",
        request=None,
        responses={200: WebhookDeliverySerializer, (409, PROBLEM_MEDIA_TYPE): CONFLICT},
    )
    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        delivery = self.get_object()
        if not webhook_services.retry_delivery(delivery):
            return problem_response(
                status.HTTP_409_CONFLICT,
                "Delivery not retried",
                "The delivery succeeded already, or a worker is sending it at this moment.",
                "delivery-not-retryable",
            )
        return Response(WebhookDeliverySerializer(_deliveries(request).get(pk=delivery.pk)).data)
