"""What a reader sees around the discussion: error pages, empty lists, the reply form, the operator's Markdown (issue 16)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from node.content import Draft
from node.db import queries
from node.services.publish import publish_article
from tests.fakes.remote import fake_remote
from tests.members_support import form_token
from tests.remote_reply_support import JRD, jrd
from tests.threads_support import create, deliver, note

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def publish(node, slug: str = "topic", title: str = "Topic", body: str = "Let us talk.") -> str:
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        published = await publish_article(session, node.settings, Draft(title, slug, body, tags=["talk"]), author)
        return published.article.ap_id


async def read(http, url: str, headers: dict | None = None) -> tuple[int, str, str]:
    async with http.get(url, headers=headers or BROWSER, allow_redirects=False) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


# --- error pages --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, status, title", [
    ("/articles/no-such-article", 404, "Page not found"),
    ("/no/such/page", 404, "Page not found"),
    ("/articles/topic?page=zero", 400, "This address is not understood"),
    ("/articles/gone", 410, "Deleted"),
])
async def test_error_pages_are_styled_pages_of_the_site(node, http, path, status, title):
    """404, 410 and 400 are pages of the site: its stylesheet, its name, a plain explanation and a way on."""
    # Given an article, and one that was deleted
    await publish(node)
    await publish(node, "gone", "Gone")
    async with node.node.sessions.begin() as session:
        gone = await queries.get_article_by_slug(session, "gone")
        from node.db.types import utcnow
        gone.deleted_at = utcnow()
    # When a browser asks for the address
    got, content_type, html = await read(http, node.url(path))
    # Then it gets the site's own page for that error
    assert got == status and content_type.startswith("text/html")
    assert '<link rel="stylesheet" href="/static/site.css">' in html
    assert f"<h1>{title}</h1>" in html and node.settings.site_name in html
    assert '<a class="button" href="/">Go to the articles</a>' in html


async def test_servers_still_get_json_errors(node, http):
    """An ActivityPub client asking for a missing article gets JSON, not the HTML page."""
    # Given nothing published
    # When a server asks for a missing article
    status, content_type, body = await read(http, node.url("/articles/none"), {"Accept": "application/activity+json"})
    # Then the answer is JSON
    assert status == 404 and "json" in content_type and "<h1>" not in body


async def test_an_unknown_tag_is_not_found_and_shows_no_operator_hint(node, http):
    """/tags/<unknown> is a 404 saying no article has that tag; nothing tells readers to run commands."""
    # Given an article tagged #talk
    await publish(node)
    # When an unknown tag is opened
    status, _, html = await read(http, node.url("/tags/nothing"))
    # Then
    assert status == 404 and "No article here is tagged #nothing." in html
    assert "fednode publish" not in html


async def test_a_page_of_articles_past_the_end_is_not_found(node, http):
    """?page=5 of a one-page list is a 404, not an empty list with the operator's instructions."""
    # Given one article
    await publish(node)
    # When page 5 of the front page and of a tag are opened
    front = await read(http, node.url("/?page=5"))
    tagged = await read(http, node.url("/tags/talk?page=5"))
    # Then both are not found, without any hint meant for the operator
    assert front[0] == tagged[0] == 404
    assert "There is no page 5 of articles." in front[2] and "fednode publish" not in front[2] + tagged[2]


async def test_an_empty_site_does_not_show_the_operator_hint_to_the_public(node, http):
    """A site with nothing published says so, without telling readers to run `fednode publish`."""
    # Given nothing published
    # When the front page is opened
    status, _, html = await read(http, node.url("/"))
    # Then
    assert status == 200 and "Nothing has been published here yet." in html and "fednode publish" not in html


# --- the reply form -------------------------------------------------------------------------------------


async def test_the_reply_form_shows_the_comment_being_answered(node, http):
    """Replying to a comment shows its author and its text above the handle field."""
    # Given Alice's comment on an article
    article = await publish(node)
    async with fake_remote() as remote:
        alice = remote.add_actor("alice", key_index=0, name="Alice Liddell")
        comment = note(alice, article, "<p>Curiouser and curiouser!</p>")
        await deliver(node, http, alice, create(alice, comment))
        # When the reply form for her comment is opened
        status, _, html = await read(http, node.url("/interact?uri=" + comment["id"]))
    # Then it quotes her comment and names her
    assert status == 200
    quoted = html[html.index('<figure class="answering">'):html.index("</figure>")]
    assert "Alice Liddell" in quoted and "<p>Curiouser and curiouser!</p>" in quoted


async def test_the_reply_form_shows_the_article_being_answered(node, http):
    """Replying to an article shows its title and the start of its text."""
    # Given an article
    article = await publish(node, body="A long and thoughtful opening about forums.")
    # When its reply form is opened
    _, _, html = await read(http, node.url("/interact?uri=" + article))
    # Then the title and the opening are quoted
    quoted = html[html.index('<figure class="answering">'):html.index("</figure>")]
    assert '<p class="quoted-title">Topic</p>' in quoted and "A long and thoughtful opening about forums." in quoted


@pytest.mark.allow_server_errors  # 502: the reader's server is at fault, on purpose
async def test_an_unknown_server_name_is_explained_in_words(node, http):
    """A handle on a server name that does not exist says so, never an exception name such as ClientConnectorDNSError."""
    # Given an article
    article = await publish(node)
    # When a handle on a name that cannot resolve is submitted (.invalid never resolves, RFC 2606)
    token = await form_token(http, node.url("/interact?" + urlencode({"uri": article})))
    async with http.post(node.url("/interact"), data={"handle": "@alice@no-such-server.invalid", "uri": article,
                                                      "csrf": token},
                         allow_redirects=False) as response:
        status, html = response.status, await response.text()
    # Then the reader is told in words
    assert status == 502
    assert "There is no server called no-such-server.invalid. Is the handle spelled right?" in html
    assert "DNSError" not in html and "Client" not in html


async def test_the_handle_cookie_is_secure_behind_a_tls_proxy(node, http):
    """When the TLS proxy says the reader came over https, the handle cookie is Secure."""
    # Given a server that offers replying from a link
    article = await publish(node)
    async with fake_remote() as remote:
        remote.serve("/.well-known/webfinger", jrd(remote), content_type=JRD)
        # When the form arrives through a proxy that terminated https
        token = await form_token(http, node.url("/interact?" + urlencode({"uri": article})))
        async with http.post(node.url("/interact"), allow_redirects=False, headers={"X-Forwarded-Proto": "https"},
                             data={"handle": f"@alice@{remote.base.removeprefix('http://')}", "uri": article,
                                   "csrf": token}) as response:
            cookie = SimpleCookie(response.headers.get("Set-Cookie", ""))["fednode_handle"]
            status = response.status
    # Then the cookie is only ever sent back over https
    assert status == 303 and cookie["secure"] is True


# --- the operator's Markdown on the page ----------------------------------------------------------------


async def test_the_article_page_keeps_the_operators_structure(node, http):
    """Headings, a picture with its alt text, a table and a code block reach the page; the site's own links are followed."""
    # Given an article written in Markdown with all of them
    body = ("## Why\n\nSee [the list](/tags/talk).\n\n![A map of the forum](/static/map.png)\n\n"
            "| Server | Users |\n|---|---|\n| one | 5 |\n\n```python\nprint('hi')\n```\n")
    await publish(node, body=body)
    # When its page is opened
    _, _, html = await read(http, node.url("/articles/topic"))
    # Then each is there as HTML, and the link to the site itself has no nofollow
    assert "<h2>Why</h2>" in html
    assert '<img src="/static/map.png" alt="A map of the forum" loading="lazy">' in html
    assert "<th>Server</th>" in html and "<td>5</td>" in html
    assert '<pre><code class="language-python">' in html
    assert '<a href="/tags/talk">the list</a>' in html
