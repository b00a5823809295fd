from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from healix.api.problems import api_not_found
from healix.observability.health import healthz, readyz
from healix.observability.metrics_view import metrics

# The Swagger UI under the CSP: its script a file of its own (the split view answers ?script),
# its page our template without inline style; only this page allows data: images (its icons).
swagger_ui = csp_update({"img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="openapi", template_name="healix/swagger_ui.html")
)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    # The partner portal: server-rendered pages behind a magic link (docs/portal.md).
    path("portal/", include("portal.urls")),
    # The REST API: each app's api/ package, and the OpenAPI document describing them all.
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="openapi"),
    path("api/v1/docs/", swagger_ui, name="swagger-ui"),
    path("api/v1/", include("events.api.urls")),
    path("api/v1/", include("integrations.inbound.api.urls")),
    path("api/v1/", include("integrations.webhooks.api.urls")),
    path("api/v1/", include("plans.api.urls")),
    path("api/v1/", include("bus.urls")),
    path("api/v1/", include("portal.api.urls")),
    # Last: whatever else is under /api/ answers problem details, not an HTML page.
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]
