"""The REST API (healix/api/, every app's api/): DRF's settings, the limits per API key and
per request, and the OpenAPI document. healix/settings.py takes every name of __all__.

Read from the environment as healix/settings.py is.
"""

import environ

from healix.settings_inbound import HEALIX_INBOUND_BATCH_MAX_BYTES

__all__ = [
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
    "HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE",
    "HEALIX_API_MAX_BODY_BYTES",
    "HEALIX_API_RATE_PER_MINUTE",
    "HEALIX_API_TRUSTED_PROXIES",
    "REST_FRAMEWORK",
    "SPECTACULAR_SETTINGS",
]

env = environ.Env()

REST_FRAMEWORK = {
    # Partners authenticate with organization API keys only (no sessions: no CSRF surface).
    "DEFAULT_AUTHENTICATION_CLASSES": ["healix.api.auth.OrganizationAPIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["healix.api.auth.HasOrganizationAPIKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "healix.api.negotiation.RememberedContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["healix.api.parsers.StrictJSONParser"],  # strict JSON only
    # Errors are RFC 9457 problem details (healix/api/problems.py).
    "EXCEPTION_HANDLER": "healix.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "healix.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Per API key, counted in PostgreSQL so every web process shares it (healix/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["healix.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Requests one API key may make per minute, over all web processes; then 429 + Retry-After.
# 1200 a minute (20 a second, sustained) is far above what a polling or posting partner
# needs, and low enough that one runaway client cannot starve the others.
HEALIX_API_RATE_PER_MINUTE = env.int("HEALIX_API_RATE_PER_MINUTE", default=1200)
# Failed key checks per client address, key prefix and minute, then 429 (never counted for the
# key): 20 lets a partner fix a mistyped key and is nothing against a 32-character secret.
HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE = env.int("HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE", default=20)
# Proxies appending the caller to X-Forwarded-For (healix/api/throttling.py); 0: REMOTE_ADDR only.
HEALIX_API_TRUSTED_PROXIES = env.int("HEALIX_API_TRUSTED_PROXIES", default=0)
# Largest request body the REST API reads (the inbound payload limit is separate and smaller).
HEALIX_API_MAX_BODY_BYTES = env.int("HEALIX_API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(
    HEALIX_API_MAX_BODY_BYTES,
    HEALIX_INBOUND_BATCH_MAX_BYTES,
    2_621_440,
)

# The OpenAPI document (drf-spectacular) and its Swagger UI, served offline from the sidecar.
SPECTACULAR_SETTINGS = {
    "TITLE": "Healix integration API",
    "DESCRIPTION": (
        "Everything an integrator can do over HTTP: send inbound events, read the outgoing "
        "event log, read and change plans, form assignments and work queue items. "
        "Authenticate with `Authorization: Api-Key <key>`; errors are RFC 9457 problem "
        "details. See docs/integrators.md."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},  # no badge fetched from validator.swagger.io
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "healix.api.openapi.add_problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": "plans.models.PlanStatus",
        "FormAssignmentStatusEnum": "plans.models.FormAssignmentStatus",
        "InboundStatusEnum": "integrations.models.InboundStatus",
    },
}
