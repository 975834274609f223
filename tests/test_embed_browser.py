"""The embed in a real browser (Debian's Chromium driven by Playwright): a blog shows its posts' discussions.

The blog is a fake site on 127.0.0.2, another site than the node on 127.0.0.1, so the frame
is cross-site as on the web.  Its post carries the snippet of docs/embedding.md: the script
(no ``data-url``: the post's ``<link rel=canonical>`` names it) and a ``<noscript>`` link.
Screenshots go to ``tmp_path`` (and to ``$FEDNODE_SCREENSHOTS`` when set, to look at them).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

import pytest

from node.discussions.service import open_discussion
from tests.fakes.remote import fake_remote
from tests.fakes.website import fake_website
from tests.members_support import PASSWORD, make_member
from tests.browser_support import DESKTOP, PHONE, browser, needs_chromium, shot  # noqa: F401 (the browser fixture)
from tests.embed_support import reply
from tests.support import make_settings

pytestmark = needs_chromium

BLOG_HOST = "127.0.0.2"
OTHER_HOST = "127.0.0.3"  # a site the node does not allow to embed
POST = "/2026/12/03/a-winter-harbour"
BLOG_CSS = """
body { margin: 0; font: 18px/1.7 Georgia, serif; color: #222; background: #fbfaf7; }
@media (prefers-color-scheme: dark) { body { color: #ddd; background: #1a1a1a; } a { color: #9cc1ff; } }
header, main { max-width: 42rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.5rem; padding-bottom: 1rem; font: 600 1rem system-ui, sans-serif; }
h1 { font-size: 2.1rem; line-height: 1.2; margin: 1rem 0 .5rem; }
.byline { color: #777; font: .9rem system-ui, sans-serif; }
#comments { margin: 3rem 0; padding-top: 1rem; border-top: 1px solid #ddd; }
#comments h2 { font: 700 1.1rem system-ui, sans-serif; text-transform: uppercase; letter-spacing: .06em; }
"""


def post_html(node_base: str, canonical: str, *, canonical_link: bool = True) -> str:
    """A blog post as a static site generator writes it, with the embed snippet of docs/embedding.md."""
    lookup = f"{node_base}/discussions?url={quote(canonical, safe='')}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A winter harbour | Notes from the coast</title>
{f'<link rel="canonical" href="{escape(canonical)}">' if canonical_link else ''}
<meta property="og:title" content="A winter harbour"><meta property="og:site_name" content="Notes from the coast">
<meta property="og:description" content="The boats are in, the quay is quiet, and the council wants to build on it.">
<link rel="stylesheet" href="/blog.css"></head>
<body><header>Notes from the coast</header><main><article>
<h1>A winter harbour</h1><p class="byline">3 December 2026 · by Mara</p>
<p>The boats are in for the winter. The quay is quiet except for the gulls, and the council
has a plan to build flats on the last stretch of it.</p>
<p>I walked the length of it this morning and counted eleven boats that would have nowhere to go.</p>
</article>
<section id="comments"><h2>Comments</h2>
<script src="{node_base}/embed.js" async></script>
<noscript><a href="{escape(lookup)}">Read and join the discussion on the forum</a></noscript>
</section></main></body></html>"""


STRICT_CSP = "default-src 'none'; style-src 'self'; script-src {node}; frame-src {node}"


@pytest.fixture
async def blog():
    async with fake_website(host=BLOG_HOST) as site:
        site.raw("/blog.css", BLOG_CSS.encode(), content_type="text/css")
        yield site


@pytest.fixture
def settings(tmp_path, blog):
    # Small pages (3 direct replies each), so that a test can page through a discussion in the frame.
    return make_settings(tmp_path, embed_origins=[blog.base], site_name="Harbour Forum", discussion_page_size=10)


@pytest.fixture
async def discussed(node, http, blog):
    """The blog's post, opened for discussion, with three comments from Mastodon (one nested two deep)."""
    url = blog.page(POST, post_html(node.base, blog.url(POST)))
    opened = await open_discussion(node.node, url)
    thread = node.url(f"/discussions/{opened.document.id}")
    async with fake_remote() as remote:
        alice, bob, chen = (remote.add_actor(name) for name in ("alice", "bob", "chen"))
        first = await reply(http, node, alice, thread, "Eleven boats is more than I thought. Is there a count "
                                                       "from the harbour master?")
        answer = await reply(http, node, bob, first, "There is: fourteen registered, three laid up ashore.")
        await reply(http, node, alice, answer, "Thanks, that matches what the fishermen said at the meeting.")
        await reply(http, node, chen, thread, "The plan goes to the council again in January, for anyone "
                                              "who wants to speak.")
    return url, opened.document


async def frame_of(page):
    """The embed's frame, once it has loaded the discussion."""
    frame = page.frame_locator("iframe.fednode-comments")
    await frame.locator(".embed-count").wait_for()
    return frame


@pytest.mark.parametrize("viewport, scheme", [(PHONE, "light"), (DESKTOP, "light"), (DESKTOP, "dark")],
                         ids=["phone", "desktop", "desktop-dark"])
async def test_a_blog_post_shows_its_whole_discussion_with_the_right_count(node, browser, discussed, tmp_path,
                                                                           viewport, scheme):
    url, _ = discussed
    context = await browser.new_context(viewport=viewport, device_scale_factor=1, color_scheme=scheme)
    page = await context.new_page()
    await page.goto(url)
    frame = await frame_of(page)
    assert await frame.locator(".embed-count").inner_text() == "4 comments"
    assert await frame.locator(".comment").count() == 4
    assert await frame.locator(".comment.depth-2").count() == 1
    assert "fourteen registered" in await frame.locator(".comment.depth-1").inner_text()
    # The frame is as tall as the discussion: the blog's page scrolls, the frame never does.
    await page.wait_for_function(
        "() => Math.abs(document.querySelector('iframe.fednode-comments').getBoundingClientRect().height"
        " - 16 * 16) > 1")
    inner = await page.frames[1].evaluate("document.documentElement.scrollHeight")
    outer = (await page.locator("iframe.fednode-comments").bounding_box())["height"]
    assert abs(inner - outer) <= 2
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    text = await page.frames[1].evaluate("getComputedStyle(document.body).color")
    assert text == ("rgb(232, 232, 232)" if scheme == "dark" else "rgb(29, 29, 31)")
    await page.locator("#comments").scroll_into_view_if_needed()
    await shot(page, tmp_path, f"embed-{viewport['width']}-{scheme}")
    await context.close()


async def test_the_embed_works_under_the_strict_csp_the_docs_give(node, browser, blog, discussed, tmp_path):
    url, _ = discussed
    strict = blog.page("/strict" + POST, post_html(node.base, url), headers={
        "Content-Security-Policy": STRICT_CSP.format(node=node.base)})
    context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = await context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    await page.goto(strict)
    frame = await frame_of(page)
    assert await frame.locator(".embed-count").inner_text() == "4 comments"
    await page.wait_for_function(
        "() => document.querySelector('iframe.fednode-comments').getBoundingClientRect().height > 16 * 16 + 1")
    assert refused == []
    await context.close()


async def test_a_site_not_in_embed_origins_cannot_frame_the_discussion(node, browser, discussed):
    url, _ = discussed
    async with fake_website(host=OTHER_HOST) as other:
        copied = other.page("/copy", post_html(node.base, url).replace(
            "embed.js\"", f"embed.js\" data-url=\"{url}\""))
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        async with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal:
            await page.goto(copied)
        assert "has been blocked" in (await refusal.value).text
        assert await page.frame_locator("iframe.fednode-comments").locator(".comment").count() == 0
        await context.close()


async def test_without_javascript_the_noscript_link_leads_to_the_discussion(node, browser, discussed, tmp_path):
    url, document = discussed
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(url)
    link = page.get_by_role("link", name="Read and join the discussion on the forum")
    assert await link.is_visible()
    await link.click()
    await page.wait_for_url(node.url(f"/discussions/{document.id}"))
    assert "Eleven boats" in await page.locator(".thread").inner_text()
    await context.close()


async def test_replying_from_the_embed_opens_the_reply_form_in_a_new_tab(node, browser, discussed):
    url, document = discussed
    context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(url)
    frame = await frame_of(page)
    async with context.expect_page() as opened:
        await frame.get_by_role("link", name="Reply from your server").click()
    tab = await opened.value
    await tab.wait_for_load_state()
    assert tab.url.startswith(node.url("/interact?uri="))
    assert page.url == url  # the blog stays where it was
    await context.close()


async def test_paging_through_a_long_discussion_stays_in_the_frame(node, http, browser, discussed):
    url, document = discussed
    async with fake_remote() as remote:
        dana = remote.add_actor("dana")
        for number in range(1, 6):
            await reply(http, node, dana, node.url(f"/discussions/{document.id}"), f"Late remark number {number}.")
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(url)
    frame = await frame_of(page)
    assert "page 1 of 3" in await frame.locator(".embed-count").inner_text()
    await frame.get_by_role("link", name="Later →").first.click()
    await frame.locator(".embed-count", has_text="page 2 of 3").wait_for()
    assert len(context.pages) == 1  # no new tab
    assert page.url == url
    shown = await frame.locator(".thread").inner_text()  # 3 direct replies a page: 2 of the fixture's, then Dana's
    assert "Late remark number 2." in shown and "Late remark number 1." not in shown
    await context.close()


async def test_a_post_nobody_discussed_offers_to_start_the_discussion(node, browser, blog, tmp_path):
    fresh = blog.page("/2026/12/04/new", post_html(node.base, blog.url("/2026/12/04/new")))
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(fresh)
    frame = page.frame_locator("iframe.fednode-comments")
    await frame.locator(".embed-count", has_text="No comments yet").wait_for()
    link = frame.get_by_role("link", name="Start the discussion")
    assert "/discussions?url=" in await link.get_attribute("href")
    assert blog.hits("/2026/12/04/new") == 1  # the reader's own visit: the node fetched nothing
    await page.locator("#comments").scroll_into_view_if_needed()
    await shot(page, tmp_path, "embed-390-nothing-yet")
    await context.close()


async def test_a_page_without_a_canonical_link_is_found_by_its_address_without_fragment(node, browser, blog,
                                                                                        discussed):
    url, _ = discussed
    blog.page(POST, post_html(node.base, url, canonical_link=False))
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(url + "?utm_source=mastodon#comments")  # as a shared link arrives
    frame = await frame_of(page)
    assert await frame.locator(".embed-count").inner_text() == "4 comments"
    await context.close()


async def test_the_counter_fills_an_index_page_with_each_posts_count_under_a_strict_csp(node, browser, blog,
                                                                                        discussed):
    url, _ = discussed
    index = blog.page("/", f"""<!doctype html><html><head><meta charset="utf-8"><title>Notes from the coast</title>
<link rel="stylesheet" href="/blog.css"></head><body><main>
<article><h2><a href="{POST}">A winter harbour</a></h2><a id="one" href="{POST}" data-fednode-count>Comments</a></article>
<article><h2><a href="/2026/11/30/nets">Mending nets</a></h2>
  <a id="two" href="/2026/11/30/nets#comments" data-fednode-count="{{n}} replies">Comments</a></article>
<a id="mail" href="mailto:mara@blog.example" data-fednode-count>Write to me</a>
<script src="{node.base}/count.js" async></script></main></body></html>""", headers={
        "Content-Security-Policy": STRICT_CSP.format(node=node.base) + f"; connect-src {node.base}"})
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = await context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    await page.goto(index)
    await page.locator("#one", has_text="4 comments").wait_for()
    await page.locator("#two", has_text="0 replies").wait_for()
    assert await page.locator("#mail").inner_text() == "Write to me"
    assert refused == []
    await context.close()


async def test_a_member_signs_in_from_the_embed_comments_in_the_forums_tab_and_the_blog_shows_it(
        node, browser, discussed):
    url, document = discussed
    await make_member(node, "mara", display_name="Mara")
    context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(url)
    frame = await frame_of(page)
    async with context.expect_page() as opened:
        await frame.get_by_role("link", name="Sign in to comment").click()
    tab = await opened.value
    await tab.wait_for_load_state()
    assert tab.url.startswith(node.url("/login?next="))
    await tab.fill("#login", "mara")
    await tab.fill("#password", PASSWORD)
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url(node.url(f"/discussions/{document.id}#comment-form"))
    await tab.fill("#comment-text", "I moor at the east side; there is room for two more boats there.")
    await tab.get_by_role("button", name="Post comment").click()
    await tab.locator(".thread", has_text="room for two more boats").wait_for()
    # Back on the blog: the frame shows the thread as it is now.  Headless Chromium keeps every
    # tab visible, so the event a browser fires when the reader switches back is sent by hand.
    await page.bring_to_front()
    embedded = next(f for f in page.frames if f.url.startswith(node.url("/embed/")))
    await embedded.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await frame.locator(".embed-count", has_text="5 comments").wait_for()
    assert "room for two more boats" in await frame.locator(".thread").inner_text()
    # The frame is another site's: the browser sends it no cookie, so it still offers to sign in.
    assert await frame.get_by_role("link", name="Sign in to comment").count() == 1
    await context.close()
