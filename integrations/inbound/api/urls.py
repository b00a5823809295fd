"""The inbound REST API, included under /api/v1/ by healix/urls.py."""

from django.urls import path

from integrations.inbound.api.batch_views import InboundBatchView
from integrations.inbound.api.views import (
    InboundItemView,
    InboundListView,
    IntegrationDetailView,
    IntegrationListView,
)

urlpatterns = [
    path("inbound/", InboundListView.as_view(), name="inbound-list"),
    path("inbound/<str:key>/", InboundItemView.as_view(), name="inbound-item"),
    path("inbound/<str:key>/batch/", InboundBatchView.as_view(), name="inbound-batch"),
    path("integrations/", IntegrationListView.as_view(), name="integration-list"),
    path("integrations/<int:pk>/", IntegrationDetailView.as_view(), name="integration-detail"),
]
