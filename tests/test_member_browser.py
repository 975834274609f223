"""A member's whole flow in a real browser (Debian's Chromium driven by Playwright), without JavaScript.

Register, comment, reply, edit, delete, and read the notification of a reply, on a phone-sized
screen: every step is a click on the page's own links and buttons, as a person does it.
Skipped when the ``playwright`` package or /usr/bin/chromium is missing.
"""

from __future__ import annotations

import pytest

from node.content import Draft
from node.db import queries
from node.members import posting
from node.services.publish import publish_article
from tests.members_support import PASSWORD, make_member
from tests.browser_support import PHONE, browser, needs_chromium  # noqa: F401 (the browser fixture)
from tests.support import make_settings, running_node

pytestmark = needs_chromium


@pytest.fixture
async def forum(tmp_path):
    """An open-registration node with an article that bob (a member) already commented on."""
    async with running_node(make_settings(tmp_path, registration_mode="open")) as node:
        async with node.node.sessions.begin() as session:
            editor = await queries.get_local_actor(session, "editor")
            article = (await publish_article(session, node.settings, Draft("The harbour plan", "harbour",
                                                                           "What should the council do?"), editor)).article
            article_url = article.url
        bob = await make_member(node, "bob")
        bobs = await posting.post_comment(node.node, bob.actor_id, article.ap_id, "Dredge it first, then build.")
        yield node, article_url, bob, bobs


@pytest.fixture
async def phone(browser):
    """A page in headless Chromium with a phone's viewport and JavaScript off (plain forms must do)."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1, java_script_enabled=False)
    return await context.new_page()


async def fits(page) -> bool:
    """Nothing on the page is wider than the phone's screen."""
    return await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_a_new_member_registers_comments_replies_edits_deletes_and_hears_of_a_reply(forum, phone, tmp_path):
    """The whole flow of issue 12 on a phone without JavaScript, each step landing where a person expects."""
    node, article_url, bob, bobs = forum
    # Register, coming back to the article signed in
    await phone.goto(node.url("/register?next=/articles/harbour"))
    await phone.fill("#username", "alice")
    await phone.fill("#display_name", "Alice")
    await phone.fill("#password", PASSWORD)
    await phone.fill("#password_again", PASSWORD)
    await phone.click("form.account-form button[type=submit], main form button[type=submit]")
    assert phone.url.startswith(article_url)
    assert await phone.locator(".site-nav .member-name").inner_text() == "Alice"

    # Comment on the article: the browser lands on the new comment, which is highlighted
    await phone.fill("#comment-text", "The **budget** section assumes 2019 prices.")
    await phone.click("#comment-form button[type=submit]")
    assert "#c-" in phone.url
    mine = phone.url.rsplit("#c-", 1)[1]
    assert "2019 prices" in await phone.locator(f"#c-{mine}").inner_text()
    target = "node => getComputedStyle(node).backgroundColor"
    assert await phone.locator(f"#c-{mine}").evaluate(target) != await phone.locator(f"#c-{bobs.id}").evaluate(target)

    # Reply to bob: the reply page shows his comment above the box
    await phone.locator(f"#c-{bobs.id} a.reply").click()
    assert "Dredge it first" in await phone.locator(".comment.answering").inner_text()
    await phone.fill("#comment-text", "Dredging costs more than you think.")
    await phone.click("form.reply-box button[type=submit]")
    reply = phone.url.rsplit("#c-", 1)[1]
    assert "depth-1" in (await phone.locator(f"#c-{reply}").get_attribute("class"))
    await phone.screenshot(path=str(tmp_path / "after-reply.png"), full_page=True)
    assert await fits(phone)

    # Edit her comment: it says "edited"
    await phone.locator(f"#c-{mine} a.edit").click()
    await phone.fill("#comment-text", "The **budget** section assumes 2019 prices, before the flood.")
    await phone.click("form.comment-form button[type=submit]")
    assert "before the flood" in await phone.locator(f"#c-{mine}").inner_text()
    assert await phone.locator(f"#c-{mine} .edited").count() == 1

    # Delete her reply to bob: a placeholder stays
    await phone.locator(f"#c-{reply} a.delete").click()
    await phone.click("form.confirm button[type=submit]")
    assert "[deleted]" in await phone.locator(f"#c-{reply}").inner_text()
    assert "costs more" not in await phone.content()

    # Bob answers her comment: her notifications show it, and lead to it
    await posting.post_comment(node.node, bob.actor_id, node.url(f"/comments/{mine}"), "Which flood?")
    await phone.goto(article_url)
    assert await phone.locator(".site-nav .unread-count").inner_text() == "1"
    await phone.locator(".site-nav a.notifications-link").click()
    item = phone.locator(".notification.unread").first
    assert "bob" in await item.inner_text() and "replied to you" in await item.inner_text()
    await phone.screenshot(path=str(tmp_path / "notifications.png"), full_page=True)
    assert await fits(phone)
    await item.locator("a.whole").click()
    assert "Which flood?" in await phone.locator(f"#{phone.url.rsplit('#', 1)[1]}").inner_text()
