"""Included under /api/v1/ by healix/urls.py."""

from django.urls import path

from integrations.api.batch_views import InboundBatchView
from integrations.api.views import (
    InboundItemView,
    InboundListView,
    IntegrationDetailView,
    IntegrationListView,
)
from integrations.api.webhook_views import (
    DeliveryRetryView,
    WebhookDeliveryListView,
    WebhookDetailView,
    WebhookListView,
    WebhookRotateSecretView,
    WebhookTestView,
)

urlpatterns = [
    path("inbound/", InboundListView.as_view(), name="inbound-list"),
    path("inbound/<str:key>/", InboundItemView.as_view(), name="inbound-item"),
    path("inbound/<str:key>/batch/", InboundBatchView.as_view(), name="inbound-batch"),
    path("integrations/", IntegrationListView.as_view(), name="integration-list"),
    path("integrations/<int:pk>/", IntegrationDetailView.as_view(), name="integration-detail"),
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
