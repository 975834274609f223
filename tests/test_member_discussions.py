"""Issue 13 from the web: a signed-in member opens the discussion of any page at /discussions and comments on it.

A fake news site on 127.0.0.1 serves the page; the member signs in through the real form.
"""

from __future__ import annotations

import re

from node.db import discussions as db
from tests.fakes.website import article_html, fake_website
from tests.members_support import login, make_member, member_client, page_token
from tests.support import make_settings, running_node


async def open_page(http, node, url: str) -> tuple[int, str, str]:
    """Look ``url`` up, then press "Open a discussion of this page": (status, Location, body)."""
    async with http.get(node.url("/discussions"), params={"url": url}) as response:
        assert response.status == 404
        page = await response.text()
    assert "Open a discussion of this page" in page
    token = re.search(r'action="/discussions">\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
    async with http.post(node.url("/discussions"), data={"csrf": token, "url": url}, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def test_a_member_opens_the_discussion_of_a_page_and_comments_on_it(node, http):
    """Alice opens a news story's discussion (303 to it, the comment box waiting), then her comment shows on it."""
    await make_member(node, "alice")
    async with fake_website() as site, member_client() as alice:
        story = site.page("/2026/12/harbour", article_html("The harbour plan", description="What the council decided.",
                                                             site_name="Harbour News"))
        await login(alice, node.base, "alice")
        status, location, _ = await open_page(alice, node, story + "?utm_source=mastodon")
        assert status == 303 and re.fullmatch(re.escape(node.url("/discussions/")) + r"\d+#comment-form", location)
        async with alice.get(location) as response:
            page = await response.text()
        assert "The harbour plan" in page and 'id="comment-form"' in page
        thread_id = int(re.search(r'action="/threads/(\d+)/comment"', page).group(1))
        token = await page_token(alice, node.base, location.removeprefix(node.base).split("#")[0])
        async with alice.post(node.url(f"/threads/{thread_id}/comment"), data={"csrf": token, "content": "Finally, a place to talk."},
                              allow_redirects=False) as response:
            assert response.status == 303
            landing = response.headers["Location"]
        assert landing.startswith(location.split("#")[0]) and "#c-" in landing
        async with http.get(landing.split("#")[0]) as response:
            assert "Finally, a place to talk." in await response.text()
        async with node.node.sessions() as session:
            [document] = await db.list_documents(session)
        assert document.title == "The harbour plan" and site.hits("/2026/12/harbour") == 1


async def test_opening_refuses_an_address_that_is_not_http_with_the_reason(node, http):
    """A member asking to open an ftp: address gets the page again (400) with the reason; nothing is stored."""
    await make_member(node, "alice")
    async with member_client() as alice:
        await login(alice, node.base, "alice")
        token = await page_token(alice, node.base, "/discussions")
        async with alice.post(node.url("/discussions"), data={"csrf": token, "url": "ftp://files.example/x"},
                              allow_redirects=False) as response:
            assert response.status == 400
            assert 'role="alert"' in await response.text()
    async with node.node.sessions() as session:
        assert list(await db.list_documents(session)) == []


async def test_members_open_at_most_the_hourly_allowance(tmp_path, http):
    """With discuss_opens_per_hour = 1, a member's second page in the hour is refused with the reason."""
    async with running_node(make_settings(tmp_path, discuss_opens_per_hour=1)) as node, fake_website() as site:
        await make_member(node, "alice")
        async with member_client() as alice:
            await login(alice, node.base, "alice")
            first, second = site.page("/a", article_html("A")), site.page("/b", article_html("B"))
            assert (await open_page(alice, node, first))[0] == 303
            status, _, body = await open_page(alice, node, second)
        assert status == 400 and "in the last hour" in body


async def test_a_reader_is_asked_to_sign_in_to_open_one(node, http):
    """The not-found page offers readers a sign-in link, and a reader's POST is sent to sign in."""
    async with http.get(node.url("/discussions"), params={"url": "https://news.example/x"}) as response:
        page = await response.text()
    assert "Sign in</a> to open a discussion" in page and "Open a discussion of this page" not in page
    async with http.post(node.url("/discussions"), data={"url": "https://news.example/x"}, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].startswith("/login")
