from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from events.views import asyncapi_view, event_schema_view
from healix.problems import api_not_found

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path(
        "api/v1/schemas/events/<str:event_type>.json",
        event_schema_view,
        name="event-schema",
    ),
    path("api/v1/asyncapi.json", asyncapi_view, name="asyncapi"),
    path("api/v1/", include("integrations.api.urls")),
    # Last: whatever else is under /api/ answers problem details, not an HTML page.
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
