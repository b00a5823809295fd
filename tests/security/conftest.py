"""The browser tests' chromium, pages and CSP monitor, for the security tests that need a real
browser to show what a hostile party's markup could do (tests/browser/conftest.py)."""

from tests.browser.conftest import (  # noqa: F401 (fixtures and the CSP hook, shared)
    browser,
    csp_monitor,
    page,
    pytest_runtest_call,
)
