"""The admin area in a real browser (Debian's Chromium driven by Playwright), on a desk and on a phone.

Issue 12's flow: an admin approves a held comment from the queue, with plain
forms and no JavaScript, and the comment appears on the article page and is
announced to the Group's followers. Screenshots of each page are kept in the
test's folder (at 1280 and 390 px, light and dark) for people to look at.
"""

from __future__ import annotations

import aiohttp
import pytest

from node.members.roles import Role
from tests.fakes.remote import fake_remote
from tests.browser_support import DESKTOP, PHONE, browser, needs_chromium  # noqa: F401 (the browser fixture)
from tests.members_fed_support import received as delivered
from tests.members_support import login, make_member
from tests.moderation_support import held_reply, set_up_forum
from tests.support import POLICY_DEFAULTS, make_settings, running_node, wait_for
from tests.threads_support import comment as stored

pytestmark = needs_chromium


async def signed_in_page(browser, node, name: str, role: Role, *, viewport=DESKTOP, dark: bool = False):
    """A browser page signed in as a new member: the session cookie a real sign-in gave, in the browser."""
    await make_member(node, name, role=role)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await login(client, node.base, name)
        cookies = [{"name": c.key, "value": c.value, "url": node.base} for c in client.cookie_jar]
    context = await browser.new_context(viewport=viewport, device_scale_factor=1,
                                        color_scheme="dark" if dark else "light", java_script_enabled=False)
    await context.add_cookies(cookies)
    return await context.new_page()


@pytest.fixture
async def forum(tmp_path):
    async with running_node(make_settings(tmp_path / "node", **POLICY_DEFAULTS)) as node:
        async with fake_remote() as remote:
            actors, article = await set_up_forum(node, remote)
            yield node, remote, actors, article


async def test_an_admin_approves_a_held_comment_from_the_queue_and_it_appears_and_is_announced(
        forum, browser, http, tmp_path):
    node, remote, actors, article = forum
    reply = await held_reply(node, http, actors["alice"], article, "A first comment, held for review")
    page = await signed_in_page(browser, node, "ada", Role.ADMIN)
    # Given the held comment on the article page: not there yet
    await page.goto(article)
    assert "A first comment, held for review" not in await page.content()
    # When the admin opens the queue and presses Approve under it (a plain form, no script)
    await page.goto(node.url("/admin/queue"))
    await page.screenshot(path=str(tmp_path / "queue-desk.png"), full_page=True)
    comment = await stored(node, reply["object"]["id"])
    await page.locator(f"#q-{comment.id} form.decision-approve button").click()
    # Then the queue says so, the comment is on the article page, and the Group announced it
    assert "Approved" in await page.locator(".notice").inner_text()
    assert await page.locator(f"#q-{comment.id}").count() == 0
    await page.goto(article)
    assert "A first comment, held for review" in await page.locator(".discussion").inner_text()
    announce = (await wait_for(lambda: delivered(remote, "Announce")))[0]
    assert announce["object"]["id"] == reply["id"]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
async def test_the_queue_fits_a_phone_in_light_and_dark(forum, browser, http, tmp_path, dark):
    """On a 390 px screen nothing overflows sideways and every decision button is on screen."""
    node, remote, actors, article = forum
    await held_reply(node, http, actors["alice"], article, "x" * 300)  # one long word
    await held_reply(node, http, actors["bob"], article, "A calmer comment that waits for a moderator.")
    page = await signed_in_page(browser, node, "mo", Role.MODERATOR, viewport=PHONE, dark=dark)
    await page.goto(node.url("/admin/queue"))
    shot = tmp_path / f"queue-phone-{'dark' if dark else 'light'}.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for button in await page.locator(".decisions button").all():
        box = await button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # Every button's label is readable: its text colour differs from its background (other pages' button
    # styles must not bleed into the admin's).
    clashes = await page.evaluate("""[...document.querySelectorAll('.admin button')]
        .filter(b => getComputedStyle(b).color === getComputedStyle(b).backgroundColor).map(b => b.textContent)""")
    assert clashes == []
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(18, 18, 18)") == dark
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("path", ["/admin", "/admin/reports", "/admin/blocks", "/admin/log"])
async def test_each_moderation_page_fits_a_phone(forum, browser, http, tmp_path, path):
    node, remote, actors, article = forum
    page = await signed_in_page(browser, node, "mo", Role.MODERATOR, viewport=PHONE)
    response = await page.goto(node.url(path))
    assert response.status == 200
    await page.screenshot(path=str(tmp_path / f"{path.strip('/').replace('/', '-')}-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

