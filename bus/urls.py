"""The bus's REST resource, included under /api/v1/ by healix/urls.py."""

from django.urls import path

from bus.views import BusCredentialsView

urlpatterns = [
    path("bus-credentials/", BusCredentialsView.as_view(), name="bus-credentials"),
]
