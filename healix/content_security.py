"""The Content-Security-Policy header of every response (the policy: settings_headers.py)."""

from functools import cache
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

__all__ = ["CSPMiddleware"]

SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
# What a view's decorators (csp.decorators) set on its response to change the policy.
POLICY_CHANGES = tuple(
    f"_csp_{change}{suffix}" for change in ("config", "update", "replace") for suffix in ("", "_ro")
)


@cache
def settings_policies() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, policy, exemption attribute, excluded path prefixes) of the policy and of its
    report-only counterpart, as django-csp builds them from the settings alone."""
    headers = ((HEADER, "_csp_exempt", False), (HEADER_REPORT_ONLY, "_csp_exempt_ro", True))
    policies = []
    for (header, exemption, report_only), setting in zip(headers, SETTINGS, strict=True):
        excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        policy = build_policy(report_only=report_only)
        policies.append((header, policy, exemption, tuple(excluded)))
    return tuple(policies)


@receiver(setting_changed)
def _forget_policies(setting: str, **kwargs: Any) -> None:
    if setting in SETTINGS:
        settings_policies.cache_clear()


class CSPMiddleware(DjangoCSPMiddleware):
    """django-csp's middleware, with the settings' own policy built once per process.

    django-csp builds the header from the settings for every response: 60 to 80 us of CPU,
    a tenth of what a caught-up poll of the events feed costs the web process. A response
    whose view changed nothing (no decorator, no nonce used) carries exactly the settings'
    policy, so it is built once; any other goes through django-csp as before. In DEBUG,
    django-csp's own exemptions (its debug pages) apply unchanged.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        nonce_used = getattr(request, "_csp_nonce", None) is not None
        if settings.DEBUG or nonce_used or any(hasattr(response, a) for a in POLICY_CHANGES):
            return super().process_response(request, response)
        for header, policy, exemption, excluded in settings_policies():
            if (
                policy
                and header not in response
                and not getattr(response, exemption, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written would not be in it.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
