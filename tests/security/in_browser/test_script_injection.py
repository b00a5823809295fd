"""A hostile tenant's markup in the operator's admin, the day a template forgets to escape it:
chromium refuses to run it, because of the Content-Security-Policy the admin is served with.

The forgotten escaping is simulated in the browser: the admin's real response (its headers
untouched) reaches the page with the hostile tenant's integration name unescaped.
"""

import pytest
from django.utils.html import escape
from playwright.sync_api import Route, expect

from tests.browser.ui import log_in

pytestmark = pytest.mark.browser

CHANGE_LIST = "/admin/integrations/httpintegration/"
# What the hostile tenant calls its HTTP integration: a script, and an inline event handler.
HOSTILE_NAME = "<script>window.hostile = 1</script><img src=x onerror=window.hostile=2>"


def unescape_hostile_name(route: Route) -> None:
    """The admin's own answer, as if its template printed the name raw."""
    response = route.fetch()
    body = response.text()
    assert escape(HOSTILE_NAME) in body  # shown (escaped) today: the test replaces it
    route.fulfill(response=response, body=body.replace(escape(HOSTILE_NAME), HOSTILE_NAME))


def test_markup_a_hostile_tenant_got_into_the_admin_cannot_run_script(
    page, csp_monitor, superuser, other_world
):
    """Given the other organization named its HTTP integration with a script and an inline
    handler, and a template that printed that name without escaping,
    when the platform operator opens the list of HTTP integrations,
    then neither runs, and chromium reports both as blocked by the policy."""
    other_world.webhook.partner_name = HOSTILE_NAME
    other_world.webhook.save(update_fields=["partner_name"])
    log_in(page, superuser)
    page.route(f"**{CHANGE_LIST}", unescape_hostile_name)

    page.goto(CHANGE_LIST)
    expect(page.locator("#result_list")).to_be_visible()
    expect(page.locator("#result_list img[src=x]")).to_have_count(1)  # the raw markup is there

    assert page.evaluate("() => window.hostile") is None
    blocked = {(v["directive"], v["blocked"]) for v in csp_monitor.take(at_least=2)}
    assert blocked == {("script-src-elem", "inline"), ("script-src-attr", "inline")}
