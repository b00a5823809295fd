"""Browser tests: Playwright driving Debian's chromium against the admin on pytest-django's
live server (a real HTTP server on loopback, on the test database).

Every page of every test is watched for Content-Security-Policy violations (the
`securitypolicyviolation` events of each document, and chromium's console messages about the
policy): a test whose pages caused one fails, naming each (`csp_monitor`).

Playwright's own browser download is never used (this network refuses it): the tests run
/usr/bin/chromium, and install it with apt-get when it is missing and we are root (a fresh CI
machine). Each test saves a PNG at each key step under var/test-artifacts/browser/<test>/.
"""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from dev import servers as devservers
from tests.fixtures.debian import ensure_debian_package
from tests.fixtures.waiting import PATIENCE, wait_until

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these, chromium stalls on refused connections
# (updates, sync, QUIC probes) and needs a sandbox that a root container does not give.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The smallest laptop screen the admin is made for: every page fits it without scrolling sideways.
VIEWPORT = {"width": 1366, "height": 768}
ARTIFACTS = devservers.var_dir() / "test-artifacts" / "browser"
# Added to every document before its own scripts run (through the DevTools protocol, so the
# page's policy does not apply to it): each violation is handed to the test's monitor.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.healixCspViolation({
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: `${event.sourceFile}:${event.lineNumber}`,
    sample: event.sample,
  });
});
"""


@pytest.fixture(scope="package")
def browser(django_db_setup) -> Iterator[Browser]:
    """One chromium for the tests of this folder, started once the test database exists."""
    executable = ensure_debian_package("chromium", CHROMIUM)
    # Playwright's sync API keeps an asyncio loop in this thread while it runs, which makes
    # Django refuse every ORM call "from an async context"; the tests' ORM calls (and the
    # fixtures') are plain blocking ones. Only while the browser lives: other folders keep
    # Django's check.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Shots:
    """Numbered screenshots of one test: var/test-artifacts/browser/<test>/NN-<step>.png."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0

    def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


class CspMonitor:
    """The CSP violations of one test's pages: reported by the documents themselves, and by
    chromium on the console ("Refused to ... because it violates ... Content Security
    Policy")."""

    def __init__(self) -> None:
        self.page: Page | None = None
        self.violations: list[dict] = []
        self.console: list[str] = []

    def record(self, violation: dict) -> None:
        self.violations.append(violation)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(f"{message.type}: {message.text}")

    def take(self, at_least: int = 0) -> list[dict]:
        """The violations so far (waiting for `at_least` of them), forgotten: for a test that
        expects some. An inline handler's is reported only when its event comes."""
        wait_until(lambda: self._settle() or len(self.violations) >= at_least)
        taken, self.violations, self.console = self.violations, [], []
        return taken

    def check(self) -> None:
        self._settle()
        if self.violations or self.console:
            found = "\n".join([*map(str, self.violations), *self.console])
            raise AssertionError(f"Content-Security-Policy violations:\n{found}")

    def _settle(self) -> None:
        # Violation events are dispatched as tasks of the page: one more task of its event
        # loop, awaited, has them all reach us.
        if self.page is not None and not self.page.is_closed():
            self.page.evaluate("() => new Promise((done) => setTimeout(done, 0))")


@pytest.fixture
def csp_monitor() -> CspMonitor:
    return CspMonitor()


class ConsoleErrors:
    """What the pages of one test reported as errors: console errors (a failed request among
    them) and uncaught exceptions of their scripts."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.found.append(f"{message.location.get('url', '')}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.found.append(f"uncaught: {error}")

    def take(self) -> list[str]:
        taken, self.found = self.found, []
        return taken


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def page(browser, live_server, csp_monitor, console_errors) -> Iterator[Page]:
    """A fresh browser context (no cookies, a 1366 x 768 window) whose relative URLs go to the
    live server, its pages watched for CSP violations and console errors."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(PATIENCE * 1000)
    expect.set_options(timeout=PATIENCE * 1000)
    context.expose_function("healixCspViolation", csp_monitor.record)
    context.add_init_script(CSP_LISTENER)
    context.on("console", csp_monitor.on_console)
    context.on("console", console_errors.on_console)
    page = context.new_page()
    page.on("pageerror", console_errors.on_page_error)
    csp_monitor.page = page
    yield page
    context.close()


@pytest.fixture
def shots(page, request) -> Iterator[Shots]:
    """Screenshots of the test's steps; on a failure, one more of the page as it was left."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)  # only this run's steps
    folder.mkdir(parents=True)
    taker = Shots(page, folder)
    yield taker
    report = getattr(request.node, "call_report", None)
    if report is not None and report.failed:
        taker("failed")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a browser test's own steps passed: it fails if any of its pages broke the CSP."""
    result = yield
    monitor = item.funcargs.get("csp_monitor")
    if monitor is not None:
        monitor.check()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_report = report  # read by `shots` at teardown
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if ARTIFACTS.exists() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}/<test>/NN-<step>.png")
