"""How the web process meets browsers and proxies: TLS behind a proxy, HSTS, secure-only
cookies, the other security headers and the Content-Security-Policy of every response
(docs/operations.md#production-settings). healix/settings.py takes every name of __all__.

Read from the environment as healix/settings.py is. The defaults are production's (DEBUG off)
and pass `manage.py check --deploy`; DEBUG on (`make run`, `make test`: plain HTTP on
loopback) turns off what needs TLS: the redirect, HSTS and secure-only cookies. The policy is
the same in both, so a page that breaks it shows up in development and in the browser tests.
"""

import environ
from csp.constants import NONE, SELF

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSRF_COOKIE_SECURE",
    "HEALIX_BEHIND_TLS_PROXY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_REFERRER_POLICY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "X_FRAME_OPTIONS",
]

env = environ.Env()
_DEBUG = env.bool("DEBUG", default=False)  # the same variable and default as settings.DEBUG

# A year: the shortest max-age the browsers' HSTS preload lists accept.
HSTS_ONE_YEAR_SECONDS = 365 * 24 * 3600

# The web process is reached through a proxy that ends TLS and sets X-Forwarded-Proto (and
# overwrites any a client sent): only then is that header believed. Off when gunicorn itself
# ends TLS, or nothing in front of it would strip a forged header.
HEALIX_BEHIND_TLS_PROXY = env.bool("HEALIX_BEHIND_TLS_PROXY", default=not _DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HEALIX_BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not _DEBUG)
# Probes and Prometheus talk to a process directly, over plain HTTP: never redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if _DEBUG else HSTS_ONE_YEAR_SECONDS)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Consent to the preload lists; the site is listed only once someone submits it there.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not _DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not _DEBUG)

# Django's own defaults, stated because pages rely on them: no type sniffing, referrers only
# to the site itself, a window opened from elsewhere gets no handle on ours, no framing.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Every response (django-csp's middleware): scripts and styles only from the site's own files,
# never inline (the admin, the operations view and the Swagger UI need none: healix/urls.py,
# healix/static/healix/); no plugins; no framing by anyone; forms post only to the site. The
# Swagger UI page alone adds data: images, which its stylesheet uses for icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
