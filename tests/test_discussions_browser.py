"""The discussion of a web page in a real browser (Debian's Chromium driven by Playwright), phone and desktop.

A reader pastes a shared link (tracking parameters and all) into the lookup form, without any
script, lands on the page's one discussion, and their browser makes no request to any other
site: the page's title, site and description are shown as text, never hot-linked images.
Screenshots go to ``tmp_path`` (and to ``$FEDNODE_SCREENSHOTS`` when set, to look at them).
"""

from __future__ import annotations

import pytest

from node.discussions.service import open_discussion
from node.federation.vocab import PUBLIC
from tests.fakes.remote import fake_remote, signed_post
from tests.fakes.website import article_html, fake_website
from tests.browser_support import DESKTOP, PHONE, browser, needs_chromium, shot  # noqa: F401 (the browser fixture)

pytestmark = needs_chromium


@pytest.fixture
async def discussed(node, http):
    """A news story opened for discussion, with a Mastodon reply and an answer to it."""
    async with fake_website() as site, fake_remote() as remote:
        site.page("/2026/12/03/harbour", article_html(
            "Council approves the harbour plan after a long night",
            description="The vote was 7 to 4. Fishermen say the new quay leaves them no room; the mayor "
                        "promises a second consultation in spring.",
            site_name="Harbour News", author="Ann Reporter", creator="@ann@social.example",
            published="2026-12-02T21:40:00Z"))
        opened = await open_discussion(node.node, site.url("/2026/12/03/harbour"))
        thread = node.url(f"/discussions/{opened.document.id}")
        alice = remote.add_actor("alice")
        parent = None
        for number, text in ((1, "The paper closed its comments years ago. Glad this exists."),
                             (2, "Same here. The quay question deserves a real discussion.")):
            note = {"id": f"{remote.base}/users/alice/statuses/{number}", "type": "Note", "attributedTo": alice.id,
                    "inReplyTo": parent or thread, "content": f"<p>{text}</p>", "to": [PUBLIC],
                    "cc": [alice.id + "/followers"], "published": f"2026-12-03T0{number}:00:00Z"}
            create = {"@context": "https://www.w3.org/ns/activitystreams", "id": note["id"] + "/activity",
                      "type": "Create", "actor": alice.id, "object": note, "to": note["to"], "cc": note["cc"]}
            status, _ = await signed_post(http, node.url("/inbox"), create, alice)
            assert status == 202
            await node.node.processor.drain()
            parent = note["id"]
        yield site, opened.document


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_reader_finds_the_discussion_of_a_shared_link(node, browser, discussed, tmp_path, viewport):
    site, document = discussed
    context = await browser.new_context(viewport=viewport, device_scale_factor=1, java_script_enabled=False)
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # Given the lookup form, without JavaScript
    await page.goto(node.url("/discussions"))
    await shot(page, tmp_path, f"discussions-lookup-{viewport['width']}")
    # When a reader pastes the link they were sent, tracking parameters and all
    await page.fill("#url", site.url("/2026/12/03/harbour?utm_source=newsletter&fbclid=x#comments"))
    await page.click("button[type=submit]")
    # Then they land on the page's one discussion, labelled, with the two comments nested
    assert page.url == node.url(f"/discussions/{document.id}")
    assert await page.locator(".linked-page .label").inner_text() == "A DISCUSSION OF AN EXTERNAL PAGE"
    assert "Council approves the harbour plan" in await page.locator("h1").first.inner_text()
    assert await page.locator(".comment .number").all_inner_texts() == ["1", "1.1"]
    widest = await page.evaluate("document.documentElement.scrollWidth")
    assert widest <= viewport["width"]
    await shot(page, tmp_path, f"discussion-{viewport['width']}")
    # And the reader's browser asked nothing of any other site (no hot-linked image, no script)
    assert requested and all(url.startswith(node.base) for url in requested), requested
    assert site.requests[-1][0] == "/2026/12/03/harbour" and len(site.requests) == 1
    await context.close()


async def test_an_unknown_page_offers_to_open_one(node, browser, tmp_path):
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    response = await page.goto(node.url("/discussions?url=https%3A%2F%2Fnews.example%2Fnever-discussed%3Futm_source%3Dx"))
    assert response.status == 404
    assert await page.locator("#nf-heading").inner_text() == "No discussion of this page yet"
    assert "fednode discuss https://news.example/never-discussed" in await page.locator(".not-found").inner_text()
    assert await page.input_value("#url") == "https://news.example/never-discussed?utm_source=x"
    await shot(page, tmp_path, "discussions-not-found-390")
    await context.close()


async def test_a_fediverse_post_closed_at_its_source_reads_well_on_a_phone(node, browser, tmp_path):
    """A Lemmy post locked at its source: the post, the closed label and the way to reply fit a 390 px screen."""
    async with fake_remote() as remote:
        community = remote.add_actor("harbour", kind="Group")
        post_id = f"{remote.base}/post/7"
        remote.serve("/post/7", {
            "@context": "https://www.w3.org/ns/activitystreams", "id": post_id, "type": "Page",
            "attributedTo": community.id, "name": "Harbour plan megathread",
            "content": "<p>Post your questions for the council here. <strong>Be civil.</strong></p>",
            "to": [community.id, PUBLIC], "cc": [], "commentsEnabled": False, "published": "2026-12-01T10:00:00Z"})
        opened = await open_discussion(node.node, post_id)
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(node.url(f"/discussions/{opened.document.id}"))
    assert await page.locator(".linked-page .label").inner_text() == "A DISCUSSION OF A FEDIVERSE POST"
    assert "Comments are closed at the source" in await page.locator(".closed").inner_text()
    assert await page.locator(".closed").is_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await shot(page, tmp_path, "discussion-fediverse-closed-390")
    await context.close()
