"""Security tests that need a real browser: the browser tests' chromium, pages and CSP monitor
(tests/browser/conftest.py). The chromium is this folder's alone: while Playwright runs, its
event loop is the thread's, and no other test could call asyncio.run()."""

from tests.browser.conftest import (  # noqa: F401 (fixtures and the CSP hook, shared)
    browser,
    console_errors,
    csp_monitor,
    page,
    pytest_runtest_call,
)
