"""The partner portal (portal/, docs/portal.md). healix/settings.py takes every name of
__all__. Read from the environment as healix/settings.py is."""

import environ

__all__ = ["HEALIX_PORTAL_MAX_SESSION_SECONDS", "HEALIX_PORTAL_SESSION_SECONDS"]

env = environ.Env()

# A magic link, and the session it starts, last this long unless the issuer asks for less:
# long enough to find and fix a failing endpoint, short enough that a forwarded link soon dies.
HEALIX_PORTAL_SESSION_SECONDS = env.int("HEALIX_PORTAL_SESSION_SECONDS", default=3600)
# The longest an issuer may ask for (a working day).
HEALIX_PORTAL_MAX_SESSION_SECONDS = env.int("HEALIX_PORTAL_MAX_SESSION_SECONDS", default=8 * 3600)
