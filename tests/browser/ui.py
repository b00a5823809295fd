"""Driving the admin as a person does: its login form, its links and its inline rows."""

import re

from playwright.sync_api import Locator, Page, expect

from healix.models import User
from tests.fixtures.domain import PASSWORD


def log_in(page: Page, user: User) -> None:
    """Log in through the admin's login form, as a person would."""
    page.goto("/admin/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#logout-form")).to_be_visible()


def open_from_home(page: Page, model: str, row: str | None = None) -> None:
    """Home (the site's name in the header), the model's list, then the row named `row`."""
    page.locator("#site-name").get_by_role("link").click()
    page.locator("#content-main th[scope=row]").get_by_role("link", name=model, exact=True).click()
    if row is not None:
        page.locator("#result_list").get_by_role("link", name=row, exact=True).click()


def add_inline_row(page: Page, group: str) -> Locator:
    """Click the inline group's "Add another ..." link; the new (last) row."""
    inline = page.locator(f"#{group}-group")
    inline.get_by_role("button", name=re.compile(r"^Add another")).click()
    return inline.locator(f"tr.dynamic-{group}").last


def cell(row: Locator, field: str) -> Locator:
    """A tabular inline row's input for `field` (the column's header labels it on screen)."""
    return row.locator(f"[name$='-{field}']")


def save_and_continue(page: Page) -> None:
    page.get_by_role("button", name="Save and continue editing").click()


def add_action(row: Locator) -> Locator:
    """Click "Add an action" in a decision table row's actions; the new (last) action."""
    row.get_by_role("button", name="Add an action").click()
    return row.locator("li.grid-action").last
