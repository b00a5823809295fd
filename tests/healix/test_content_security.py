"""The CSP middleware writes exactly the headers django-csp's own would, building the
settings' policy once (healix/content_security.py)."""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONE, SELF
from csp.decorators import csp_exempt, csp_replace, csp_update
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from healix.content_security import CSPMiddleware


def plain(request):
    return HttpResponse("ok")


def with_nonce(request):
    return HttpResponse(f"nonce {request.csp_nonce}")


CASES = {
    "plain": plain,
    "updated": csp_update({"img-src": ["data:"]})(plain),
    "replaced": csp_replace({"script-src": [NONE]})(plain),
    "exempt": csp_exempt()(plain),
    "nonce": with_nonce,
    "header already set": lambda request: HttpResponse(headers={HEADER: "default-src 'none'"}),
}


def headers(middleware_class, view, path="/api/v1/events/"):
    request = RequestFactory().get(path)
    middleware = middleware_class(view)
    middleware.process_request(request)
    response = middleware.process_response(request, view(request))
    nonce = request._csp_nonce if isinstance(getattr(request, "_csp_nonce", None), str) else None
    found = {name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}
    # Each request draws its own nonce: compare where it stands, not its value.
    mark = nonce or "\0"
    return {name: value and value.replace(mark, "<nonce>") for name, value in found.items()}


@pytest.mark.parametrize("case", CASES)
def test_the_same_headers_as_django_csp(case):
    expected = headers(DjangoCSPMiddleware, CASES[case])
    assert headers(CSPMiddleware, CASES[case]) == expected
    assert headers(CSPMiddleware, CASES[case]) == expected  # and again, from the built policy
    if case == "plain":
        assert expected[HEADER] and "frame-ancestors 'none'" in expected[HEADER]


def test_changed_settings_are_followed():
    assert headers(CSPMiddleware, plain)[HEADER_REPORT_ONLY] is None
    changed = {
        "CONTENT_SECURITY_POLICY": {
            "EXCLUDE_URL_PREFIXES": ["/api/"],
            "DIRECTIVES": {"default-src": [SELF]},
        },
        "CONTENT_SECURITY_POLICY_REPORT_ONLY": {"DIRECTIVES": {"default-src": [NONE]}},
    }
    with override_settings(**changed):
        for path in ("/api/v1/events/", "/admin/"):
            expected = headers(DjangoCSPMiddleware, plain, path)
            assert headers(CSPMiddleware, plain, path) == expected
        assert headers(CSPMiddleware, plain, "/api/v1/events/")[HEADER] is None
        assert headers(CSPMiddleware, plain, "/admin/")[HEADER_REPORT_ONLY] == "default-src 'none'"
    assert headers(CSPMiddleware, plain) == headers(DjangoCSPMiddleware, plain)


def test_a_nonce_asked_for_after_the_header_is_refused():
    request = RequestFactory().get("/")
    middleware = CSPMiddleware(plain)
    middleware.process_request(request)
    middleware.process_response(request, plain(request))
    with pytest.raises(Exception, match="not available after the CSP header"):
        str(request.csp_nonce)
