"""The account pages in a real browser (Debian's Chromium driven by Playwright), without JavaScript of ours:
register in open mode, see your name in the header, sign out, sign in again; the pages fit a phone."""

from __future__ import annotations

import pytest

from tests.members_support import PASSWORD
from tests.support import make_settings, running_node
from tests.browser_support import PHONE, browser, needs_chromium  # noqa: F401 (the browser fixture)

pytestmark = needs_chromium


@pytest.fixture
async def open_node(tmp_path):
    async with running_node(make_settings(tmp_path, registration_mode="open")) as running:
        yield running


async def test_register_sign_out_and_sign_in_again_on_a_phone(open_node, browser, tmp_path):
    """A newcomer registers, sees their name in the header, signs out, and signs in again, all with plain forms."""
    page = await (await browser.new_context(viewport=PHONE, java_script_enabled=False)).new_page()
    # Given the registration form on a phone
    await page.goto(open_node.url("/login"))
    await page.click("text=Create an account")
    # When a newcomer fills it in
    await page.fill("#username", "Newcomer")
    await page.fill("#display_name", "Nia Newcomer")
    await page.fill("#password", PASSWORD)
    await page.fill("#password_again", PASSWORD)
    await page.click("button[type=submit]")
    # Then they are signed in and the header names them
    assert await page.locator(".site-header .member-name").inner_text() == "Nia Newcomer"
    await page.screenshot(path=str(tmp_path / "signed-in-phone.png"), full_page=True)
    # When they sign out
    await page.click(".site-header button:text('Sign out')")
    # Then the header offers to sign in again
    assert await page.locator(".site-header .member-name").count() == 0
    await page.click(".site-header a.sign-in")
    # And signing in brings the name back
    await page.fill("#login", "newcomer")
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    assert await page.locator(".site-header .member-name").inner_text() == "Nia Newcomer"


@pytest.mark.parametrize("path", ["/login", "/register", "/reset"])
async def test_account_pages_fit_a_phone_screen(open_node, browser, path):
    """Nothing on the account forms is wider than a 390 px screen."""
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    await page.goto(open_node.url(path))
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for element in await page.locator("main input:visible, main button:visible, main p").all():
        box = await element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
