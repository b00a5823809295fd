"""Included under /api/v1/ by healix/urls.py."""

from django.urls import path

from events.api.views import AsyncApiView, EventFeedView, EventSchemaView

urlpatterns = [
    path("events/", EventFeedView.as_view(), name="event-feed"),
    path("schemas/events/<str:event_type>.json", EventSchemaView.as_view(), name="event-schema"),
    path("asyncapi.json", AsyncApiView.as_view(), name="asyncapi"),
]
