"""The portal's REST resources, included under /api/v1/ by healix/urls.py."""

from django.urls import path

from portal.api.views import PartnerListView, PortalSessionListView

urlpatterns = [
    path("partners/", PartnerListView.as_view(), name="partner-list"),
    path("portal-sessions/", PortalSessionListView.as_view(), name="portal-session-list"),
]
