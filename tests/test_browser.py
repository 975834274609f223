"""The discussion page in a real browser on a phone-sized screen (Debian's Chromium driven by Playwright).

Skipped when the ``playwright`` package or /usr/bin/chromium is missing; Playwright's
own browser downloads are never used.
"""

from __future__ import annotations

import pytest

from node.services.demo import seed_demo
from tests.browser_support import PHONE, browser, needs_chromium  # noqa: F401 (the browser fixture)

pytestmark = needs_chromium


@pytest.fixture
async def phone(browser):
    """A page in headless Chromium with a phone's viewport."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    return await context.new_page()


@pytest.fixture
async def demo_url(node):
    """The URL of the demo article, whose discussion is nested four levels deep."""
    async with node.node.sessions.begin() as session:
        url, _ = await seed_demo(session, node.settings)
    return url


async def test_nested_comments_are_visible_and_numbered_on_a_phone(node, phone, demo_url, tmp_path):
    """On a 390 px wide screen every demo comment is visible, numbered, indented by depth and inside the screen."""
    # Given the demo article opened on a phone
    await phone.goto(demo_url)
    # When its comments are read as the browser lays them out
    numbers = await phone.locator(".comment .number").all_inner_texts()
    boxes = {n: await phone.locator(f'[id="comment-{n}"]').bounding_box() for n in ("1", "1.1", "1.1.1", "1.1.1.1")}
    visible = [await phone.locator(".comment").nth(i).is_visible() for i in range(await phone.locator(".comment").count())]
    widest = await phone.evaluate("document.documentElement.scrollWidth")
    shot = tmp_path / "discussion-phone.png"
    await phone.screenshot(path=str(shot), full_page=True)
    # Then they are numbered in thread order, each level further right, and nothing overflows sideways
    assert numbers == ["1", "1.1", "1.1.1", "1.1.1.1", "1.2", "2", "2.1"]
    assert visible == [True] * len(numbers)
    lefts = [boxes[n]["x"] for n in ("1", "1.1", "1.1.1", "1.1.1.1")]
    assert lefts == sorted(lefts) and len(set(lefts)) == 4
    assert widest <= PHONE["width"]
    assert shot.stat().st_size > 10_000


async def test_reply_link_opens_the_handle_form_without_script(node, phone, demo_url):
    """Pressing "reply" under a comment opens the handle form; a malformed handle comes back with a message."""
    # Given the demo article on a phone
    await phone.goto(demo_url)
    # When the reader presses reply under comment 1.1 and submits something that is not a handle
    await phone.locator('[id="comment-1.1"] a.reply').first.click()
    await phone.fill("#handle", "not a handle")
    await phone.click("button[type=submit]")
    # Then the form is shown again with the explanation, still holding what was typed
    assert "is not a fediverse handle" in await phone.locator(".error").inner_text()
    assert await phone.input_value("#handle") == "not a handle"


async def test_a_comment_permalink_lands_on_the_comment_and_highlights_it(node, phone, demo_url):
    """Opening a comment's own address (/comments/<id>) scrolls to it on the discussion and sets it apart."""
    from node.db import queries

    # Given the demo discussion, and the address of its comment 1.1
    await phone.goto(demo_url)
    anchor = await phone.locator('[id="comment-1.1"]').evaluate("node => node.closest('li').id")
    async with node.node.sessions() as session:
        comment = await queries.get_object_by_id(session, int(anchor.removeprefix("c-")))
    # When the comment's address is opened
    await phone.goto(comment.ap_id)
    # Then the browser is on the discussion at that comment, which looks different from the others
    assert phone.url.endswith(f"#c-{comment.id}")
    background = "node => getComputedStyle(node).backgroundColor"
    target = await phone.locator(f"#c-{comment.id}").evaluate(background)
    others = {await phone.locator(".comment").nth(i).evaluate(background) for i in range(await phone.locator(".comment").count())}
    assert target not in (others - {target})
    assert len(others) == 2  # the highlighted one, and all the rest alike
