"""The browser extension (extension/), built by its own script and loaded unpacked into Debian's Chromium.

The node runs on 127.0.0.1 and the pages being read on a fake site on 127.0.0.2.  Chromium runs
in the new headless mode, which loads unpacked extensions; Playwright cannot click a toolbar
button, so the tests open the extension's popup page in a tab with the page's address as
``?url=`` (the popup's own "open in a tab" link does the same); clicked in the toolbar, the
popup reads the address of the active tab instead (``activeTab``).  The extension is built
with ``--node`` for the test node, as an operator builds it for their forum, because a
headless browser cannot answer the permission prompt that saving a new forum raises.
Screenshots go to ``tmp_path`` (and ``$FEDNODE_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from node.discussions.service import open_discussion
from node.federation.vocab import PUBLIC
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, needs_chromium, playwright_api, shot
from tests.fakes.remote import fake_remote, signed_post
from tests.fakes.website import article_html, fake_website
from tests.support import make_settings, running_node

pytestmark = needs_chromium

EXTENSION = Path(__file__).resolve().parent.parent / "extension"
POPUP = {"width": 420, "height": 640}  # about what Chromium gives a popup of this width
PAGE_HOST = "127.0.0.2"  # the site being read: another address than the node's


def build_extension(out: Path, *nodes: str) -> Path:
    """Run extension/build into ``out``; the unpacked Chromium folder."""
    command = [sys.executable, str(EXTENSION / "build"), "--out", str(out)]
    for node in nodes:
        command += ["--node", node]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out / "chromium"


def lookups(requests: list[str]) -> list[str]:
    """The page addresses asked about in a node's recorded requests (``GET /api/v1/thread?url=…``)."""
    asked = []
    for request in requests:
        method, target = request.split(" ", 1)
        if method == "GET" and urlsplit(target).path == "/api/v1/thread":
            asked += parse_qs(urlsplit(target).query)["url"]
    return asked


@dataclass
class Installed:
    """Chromium with the extension loaded, and the extension's id."""

    context: object
    extension_id: str

    def page_url(self, name: str, **query: str) -> str:
        suffix = "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()) if query else ""
        return f"chrome-extension://{self.extension_id}/{name}{suffix}"

    async def popup(self, url: str):
        """The popup for a tab showing ``url`` (opened as a page with ``?url=``), once it has answered."""
        page = await self.context.new_page()
        await page.set_viewport_size(POPUP)
        await page.goto(self.page_url("popup.html", url=url))
        await page.wait_for_selector("body[data-settled]")
        return page


@contextlib.asynccontextmanager
async def installed(folder: Path, *nodes: str):
    """Chromium on a fresh profile in ``folder`` with the extension built for ``nodes``."""
    unpacked = build_extension(folder / "dist", *nodes)
    args = [*CHROMIUM_ARGS, f"--disable-extensions-except={unpacked}", f"--load-extension={unpacked}"]
    async with playwright_api.async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            str(folder / "profile"), executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            # The background's service worker names the extension: chrome-extension://<id>/background.js
            worker = context.service_workers[0] if context.service_workers else await context.wait_for_event("serviceworker")
            yield Installed(context, urlsplit(worker.url).hostname)
        finally:
            await context.close()


@pytest.fixture
async def chromium(node, tmp_path):
    """Chromium with the extension built for the test node."""
    async with installed(tmp_path, node.base) as browser:
        yield browser


@pytest.fixture
def settings(tmp_path):
    """The test node, with the smallest page of comments the settings allow (three top-level comments to a page)."""
    return make_settings(tmp_path, discussion_page_size=10)


@pytest.fixture
async def site():
    async with fake_website(host=PAGE_HOST) as website:
        yield website


@pytest.fixture
async def discussed(node, http, site):
    """A news story with a discussion: a Mastodon user's comment, a reply to it, and a second comment."""
    url = site.page("/2026/12/03/harbour", article_html(
        "Council approves the harbour plan after a long night", site_name="Harbour News",
        description="The vote was 7 to 4."))
    opened = await open_discussion(node.node, url)
    thread = node.url(f"/discussions/{opened.document.id}")
    async with fake_remote() as remote:
        alice, bob = remote.add_actor("alice", name="Alice Fisher"), remote.add_actor("bob", key_index=1)
        for number, (who, parent, html) in enumerate((
                (alice, thread, '<p>The paper closed its comments years ago. <a href="https://news.example/x">Here</a> '
                                'is <strong>where</strong> we talk now.</p>'),
                (bob, 1, "<p>Same here. The quay question deserves a real discussion.</p>"),
                (alice, thread, "<p>Second thought: the vote was closer than it looks.</p>")), start=1):
            note = {"id": f"{remote.base}/notes/{number}", "type": "Note", "attributedTo": who.id,
                    "inReplyTo": parent if isinstance(parent, str) else f"{remote.base}/notes/{parent}",
                    "content": html, "to": [PUBLIC], "cc": [who.id + "/followers"],
                    "published": f"2026-12-03T0{number}:00:00Z"}
            create = {"@context": "https://www.w3.org/ns/activitystreams", "id": note["id"] + "/activity",
                      "type": "Create", "actor": who.id, "object": note, "to": note["to"], "cc": note["cc"]}
            status, _ = await signed_post(http, node.url("/inbox"), create, who)
            assert status == 202
            await node.node.processor.drain()
        yield url, opened.document


async def test_reading_pages_asks_the_node_nothing_until_the_popup_is_opened(node, chromium, discussed, site):
    url, _ = discussed
    before = len(node.requests)
    # Given pages read in a browser with the extension installed
    page = await chromium.context.new_page()
    for path in ("/2026/12/03/harbour", "/2026/12/03/harbour?utm_source=x", "/elsewhere"):
        await page.goto(site.url(path))
        await page.wait_for_load_state("networkidle")
    # Then the node was asked nothing at all
    assert node.requests[before:] == []
    # When the member opens the extension's popup on the article
    await chromium.popup(url)
    # Then the node is asked once, about exactly that address
    assert len(node.requests[before:]) == 1
    assert lookups(node.requests[before:]) == [url]


async def test_the_popup_shows_the_pages_thread_nested(node, chromium, discussed, tmp_path):
    url, document = discussed
    # When the popup is opened on the discussed article
    popup = await chromium.popup(url)
    await shot(popup, tmp_path, "extension-popup-thread")
    # Then it shows the title, the count, the comments nested as on the node, and a link to the thread there
    assert await popup.locator("h1").inner_text() == "Council approves the harbour plan after a long night"
    assert await popup.locator(".count").inner_text() == "3 comments"
    top = popup.locator(".thread > .comment")
    assert await top.count() == 2
    assert await top.nth(0).locator(":scope > .meta .author").inner_text() == "Alice Fisher"
    assert "where we talk now" in await top.nth(0).locator(":scope > .content").inner_text()
    assert await top.nth(0).locator(".replies > .comment .content").inner_text() == \
        "Same here. The quay question deserves a real discussion."
    assert "closer than it looks" in await top.nth(1).inner_text()
    thread_link = popup.get_by_role("link", name=f"Open the thread on 127.0.0.1:{node.settings.listen_port}")
    assert await thread_link.get_attribute("href") == node.url(f"/discussions/{document.id}")
    # And it says what it sent, and to whom
    assert url in await popup.locator(".asked").inner_text()
    # And links in comments open in a new tab and tell the target nothing
    outward = top.nth(0).locator(".content a")
    assert (await outward.get_attribute("href"), await outward.get_attribute("rel")) == \
        ("https://news.example/x", "noopener noreferrer nofollow")
    assert await popup.evaluate("document.documentElement.scrollWidth") <= POPUP["width"]
    await popup.emulate_media(color_scheme="dark")
    await shot(popup, tmp_path, "extension-popup-thread-dark")


async def test_a_post_whose_source_closed_its_comments_is_labelled(node, chromium, tmp_path):
    """A Lemmy post locked at its source: the popup says its comments are closed there and continue here."""
    async with fake_remote() as remote:
        community = remote.add_actor("harbour", kind="Group")
        post_id = remote.serve("/post/7", {
            "@context": "https://www.w3.org/ns/activitystreams", "id": f"{remote.base}/post/7", "type": "Page",
            "attributedTo": community.id, "name": "Harbour plan megathread",
            "content": "<p>Post your questions for the council here.</p>",
            "to": [community.id, PUBLIC], "cc": [], "commentsEnabled": False, "published": "2026-12-01T10:00:00Z"})
        await open_discussion(node.node, post_id)
        popup = await chromium.popup(post_id)
    await shot(popup, tmp_path, "extension-popup-closed")
    assert "The source's comments are closed; the discussion continues here." in \
        await popup.locator(".closed").inner_text()


async def test_each_forum_in_the_options_is_asked_and_answers_in_its_own_section(node, discussed, tmp_path):
    url, _ = discussed
    # Given the extension set up for two forums, only the first of which discusses the page
    async with running_node(make_settings(tmp_path / "second")) as second, \
            installed(tmp_path, node.base, second.base) as browser:
        popup = await browser.popup(url)
        sections = popup.locator(".node-section")
        # Then each is asked once, and each answer is shown under its forum's name
        assert [await sections.nth(i).locator(".node").inner_text() for i in range(2)] == \
            [urlsplit(node.base).netloc, urlsplit(second.base).netloc]
        assert await sections.nth(0).locator(".count").inner_text() == "3 comments"
        assert await sections.nth(1).locator(".empty").inner_text() == "No discussion yet"
        assert lookups(second.requests) == [url]


async def test_a_page_nobody_discusses_says_so_and_how_to_open_one(node, chromium, site, tmp_path):
    url = site.page("/quiet", article_html("A page nobody discussed"))
    # When the popup is opened on a page with no thread, by a reader without a token
    popup = await chromium.popup(url)
    await shot(popup, tmp_path, "extension-popup-none")
    # Then it says there is none, and where to put a token to open one
    assert await popup.locator(".empty").inner_text() == "No discussion yet"
    assert "add your API token" in await popup.locator(".node-section .hint").inner_text()
    assert await popup.locator("button.open").count() == 0
    # And looking it up made nobody fetch the page
    assert site.hits("/quiet") == 0


async def test_a_tab_without_a_web_address_asks_nothing(node, chromium):
    before = len(node.requests)
    popup = await chromium.popup("chrome://settings/")
    assert "nothing was asked" in await popup.locator("main").inner_text()
    assert node.requests[before:] == []


async def test_comment_html_is_rebuilt_from_an_allow_list(chromium):
    """Whatever HTML a node sends, the popup keeps text, simple markup and http(s) links only."""
    page = await chromium.context.new_page()
    await page.goto(chromium.page_url("popup.html"))
    hostile = ('<p onclick="x()">Hi <img src="https://tracker.example/p.gif" onerror="x()">'
               '<script>x()</script><a href="javascript:x()">js</a> <a href="https://ok.example/" style="x">ok</a>'
               '<iframe src="https://evil.example/"></iframe><b><i>bold</i></b></p><div><span class="u">kept text</span></div>')
    built = await page.evaluate("""async (html) => {
        const { sanitised } = await import('./render.js');
        const box = document.createElement('div');
        box.append(sanitised(html));
        return box.innerHTML;
    }""", hostile)
    assert built == ('<p>Hi <span>js</span> <a href="https://ok.example/" target="_blank" '
                     'rel="noopener noreferrer nofollow">ok</a><b><i>bold</i></b></p>kept text')


def test_the_build_is_the_same_bytes_every_time_and_needs_no_network(tmp_path):
    # Given two builds, one of them with every network connection refused
    guard = ("import socket, runpy, sys\n"
             "def refuse(*a, **k): raise OSError('no network in a build')\n"
             "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
             f"sys.argv = ['build', '--out', {str(tmp_path / 'b')!r}]\n"
             f"runpy.run_path({str(EXTENSION / 'build')!r}, run_name='__main__')\n")
    subprocess.run([sys.executable, "-c", guard], check=True, capture_output=True)
    build_extension(tmp_path / "a")
    # Then their zips are identical, byte for byte
    for target in ("chromium", "firefox"):
        (first,) = (tmp_path / "a").glob(f"*-{target}.zip")
        (second,) = (tmp_path / "b").glob(f"*-{target}.zip")
        assert first.read_bytes() == second.read_bytes()


def test_the_manifests_ask_for_no_access_to_pages(tmp_path):
    """No content script, no tabs or history permission, no host access unless a forum is saved."""
    import json
    import zipfile

    build_extension(tmp_path)
    manifests = {}
    for target in ("chromium", "firefox"):
        (archive,) = tmp_path.glob(f"*-{target}.zip")
        with zipfile.ZipFile(archive) as opened:
            manifests[target] = json.loads(opened.read("manifest.json"))
    for manifest in manifests.values():
        assert manifest["manifest_version"] == 3
        assert manifest["permissions"] == ["activeTab", "storage"]
        assert "content_scripts" not in manifest and "host_permissions" not in manifest
        assert manifest["optional_host_permissions"] == ["https://*/*", "http://*/*"]
        assert "script-src 'self';" in manifest["content_security_policy"]["extension_pages"]
    assert manifests["chromium"]["background"] == {"service_worker": "background.js", "type": "module"}
    assert "browser_specific_settings" not in manifests["chromium"]
    assert manifests["firefox"]["background"] == {"scripts": ["background.js"], "type": "module"}
    assert manifests["firefox"]["browser_specific_settings"]["gecko"]["id"] == "discussions@fednode.invalid"


async def test_the_options_page_keeps_a_token_for_the_forum(node, chromium, tmp_path):
    """The forum the build names is listed; saving it with a token keeps both, and access to exactly its host."""
    options = await chromium.context.new_page()
    await options.goto(chromium.page_url("options.html"))
    row = options.locator(".node-row").first
    assert await row.locator("[name=url]").input_value() == node.base
    await row.locator("[name=token]").fill("secret-token")
    await options.click("#save")
    await options.wait_for_selector("#status.ok")
    assert await options.locator("#status").inner_text() == "Saved. The extension may talk to http://127.0.0.1/*."
    await shot(options, tmp_path, "extension-options")
    await options.reload()
    assert await options.locator(".node-row [name=token]").first.input_value() == "secret-token"
    assert "/account/tokens" in await options.locator(".token-hint a").first.get_attribute("href")


async def test_the_options_page_refuses_an_address_that_is_not_a_forums(chromium):
    options = await chromium.context.new_page()
    await options.goto(chromium.page_url("options.html"))
    await options.click("#add")
    await options.locator(".node-row [name=url]").last.fill("ftp://forum.example")
    await options.click("#save")
    assert await options.locator("#status").inner_text() == \
        "Not saved: a forum's address starts with https:// (not ftp:)"
async def member_token(node, username: str = "carol", scopes=("comment", "discuss")) -> str:
    """A member, and an API token of theirs as /account/tokens makes it."""
    from node.api.tokens import create_token
    from tests.members_support import make_member

    member = await make_member(node, username, display_name=username.capitalize() + " Member")
    _, token = await create_token(node.node, member.id, "browser extension", list(scopes))
    return token


async def use_token(chromium, token: str) -> None:
    """Paste the token into the extension's options next to the forum, and save."""
    options = await chromium.context.new_page()
    await options.goto(chromium.page_url("options.html"))
    await options.locator(".node-row [name=token]").first.fill(token)
    await options.click("#save")
    await options.wait_for_selector("#status.ok")
    await options.close()


async def test_a_member_comments_through_the_popup(node, http, chromium, discussed, tmp_path):
    url, document = discussed
    await use_token(chromium, await member_token(node))
    # Given the popup on the discussed article, for a member whose token the extension holds
    popup = await chromium.popup(url)
    # When they write a comment and post it
    await popup.locator(".node-section > form.compose textarea").fill("The quay is **too short** for the trawlers.")
    await popup.locator(".node-section > form.compose button[type=submit]").click()
    await popup.wait_for_selector(".comment.posted")
    await shot(popup, tmp_path, "extension-popup-posted")
    # Then the popup shows it in the thread, theirs, with the count updated
    mine = popup.locator(".thread > .comment.posted")
    assert await mine.locator(".author").inner_text() == "Carol Member"
    assert await mine.locator(".content strong").inner_text() == "too short"
    assert await popup.locator(".count").inner_text() == "4 comments"
    # And the node stored it in the thread and shows it on the discussion's page
    assert "POST /api/v1/comments" in node.requests
    async with http.get(node.url(f"/discussions/{document.id}")) as response:
        assert "for the trawlers" in await response.text()


async def test_a_member_replies_to_a_comment_and_the_reply_nests_under_it(node, chromium, discussed):
    url, _ = discussed
    await use_token(chromium, await member_token(node))
    popup = await chromium.popup(url)
    bobs = popup.locator(".replies > .comment").first
    # When the member presses "reply" under Bob's comment and posts
    await bobs.locator(":scope > button", has_text="reply").click()
    await bobs.locator(":scope > form.compose textarea").fill("Agreed, Bob.")
    await bobs.locator(":scope > form.compose button[type=submit]").click()
    await popup.wait_for_selector(".comment.posted")
    # Then the reply is shown under Bob's comment
    bobs = popup.locator(".replies > .comment").first
    assert await bobs.locator(".replies > .comment.posted .content").inner_text() == "Agreed, Bob."


async def test_a_member_opens_the_discussion_of_a_page_nobody_discussed(node, chromium, site, tmp_path):
    url = site.page("/quiet", article_html("A page nobody discussed", site_name="Quiet Times"))
    await use_token(chromium, await member_token(node))
    # Given the popup on a page with no thread, for a member
    popup = await chromium.popup(url)
    assert await popup.locator(".empty").inner_text() == "No discussion yet"
    await shot(popup, tmp_path, "extension-popup-open")
    # When they open one
    await popup.click("button.open")
    await popup.wait_for_selector("h1")
    # Then the popup shows the new thread, empty, with the page's title the node read from it once
    assert await popup.locator("h1").inner_text() == "A page nobody discussed"
    assert await popup.locator(".count").inner_text() == "0 comments"
    assert site.hits("/quiet") == 1
    # And a first comment can be posted right away
    await popup.locator("form.compose textarea").fill("First!")
    await popup.locator("form.compose button[type=submit]").click()
    await popup.wait_for_selector(".comment.posted")
    assert await popup.locator(".count").inner_text() == "1 comment"


async def test_a_token_the_node_refuses_is_explained_and_nothing_is_posted(node, chromium, discussed):
    url, _ = discussed
    await use_token(chromium, "fdn_not-a-token-of-this-node")
    popup = await chromium.popup(url)
    await popup.locator(".node-section > form.compose textarea").fill("Will this go through?")
    await popup.locator(".node-section > form.compose button[type=submit]").click()
    status = popup.locator(".node-section > form.compose .status.error")
    await status.wait_for()
    assert (await status.inner_text()).startswith("Not posted: ")
    assert await popup.locator(".node-section > form.compose textarea").input_value() == "Will this go through?"
    assert await popup.locator(".count").inner_text() == "3 comments"


async def test_more_comments_come_a_page_at_a_time(node, http, chromium, discussed):
    """Past the API's page of top-level comments, "More comments" appends the next page from the same node."""
    url, _ = discussed
    token = await member_token(node)
    async with http.get(node.url("/api/v1/thread"), params={"url": url}) as response:
        thread_id = (await response.json())["thread"]["id"]
    for text in ("Third comment.", "Fourth comment."):
        async with http.post(node.url("/api/v1/comments"), json={"in_reply_to": thread_id, "content": text},
                             headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 201
    # Given a thread of four top-level comments, three to a page (discussion_page_size 10)
    popup = await chromium.popup(url)
    top = popup.locator(".thread > .comment")
    assert await top.count() == 3
    # When the reader asks for more
    await popup.get_by_role("button", name="More comments").click()
    await popup.locator(".thread > .comment").nth(3).wait_for()
    # Then the fourth follows the first three, and there is no more to ask for
    assert [await top.nth(i).locator(":scope > .content").inner_text() for i in (2, 3)] == \
        ["Third comment.", "Fourth comment."]
    assert await popup.get_by_role("button", name="More comments").count() == 0


async def test_a_comment_behind_a_content_warning_stays_folded(node, http, chromium, site):
    """A Mastodon reply with a content warning shows the warning; its text stays folded until opened, as on the node."""
    url = site.page("/finale", article_html("The season finale, reviewed"))
    opened = await open_discussion(node.node, url)
    async with fake_remote() as remote:
        dana = remote.add_actor("dana")
        note = {"id": f"{remote.base}/notes/cw", "type": "Note", "attributedTo": dana.id,
                "inReplyTo": node.url(f"/discussions/{opened.document.id}"), "summary": "Spoilers: the ending",
                "content": "<p>The captain stays ashore.</p>", "to": [PUBLIC], "cc": [dana.id + "/followers"],
                "published": "2026-12-03T09:00:00Z"}
        create = {"@context": "https://www.w3.org/ns/activitystreams", "id": note["id"] + "/activity",
                  "type": "Create", "actor": dana.id, "object": note, "to": note["to"], "cc": note["cc"]}
        status, _ = await signed_post(http, node.url("/inbox"), create, dana)
        assert status == 202
        await node.node.processor.drain()
    popup = await chromium.popup(url)
    folded = popup.locator(".comment .content details")
    assert await folded.locator("summary").inner_text() == "Spoilers: the ending"
    assert not await folded.locator("p").is_visible()
    await folded.locator("summary").click()
    assert await folded.locator("p").inner_text() == "The captain stays ashore."
