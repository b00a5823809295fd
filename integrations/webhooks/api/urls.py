"""The webhooks REST API, included under /api/v1/ by healix/urls.py."""

from django.urls import path

from integrations.webhooks.api.views import (
    DeliveryRetryView,
    WebhookDeliveryListView,
    WebhookDetailView,
    WebhookListView,
    WebhookRotateSecretView,
    WebhookTestView,
)

urlpatterns = [
    path("webhooks/", WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:pk>/", WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:pk>/deliveries/",
        WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path("webhooks/<uuid:pk>/test/", WebhookTestView.as_view(), name="webhook-test"),
    path(
        "webhooks/<uuid:pk>/rotate-secret/",
        WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("deliveries/<uuid:pk>/retry/", DeliveryRetryView.as_view(), name="delivery-retry"),
]
