"""Atom feeds: the site's articles, one thread's new comments, one member's comments.

Parsed with feedparser as a feed reader would; ids, links, dates, escaping and
sanitising checked, and each feed found from its page's <link rel="alternate">.
"""

from __future__ import annotations

import re

import feedparser
import pytest
from multidict import CIMultiDict

from node.content import Draft
from node.db import queries
from node.discussions.service import open_discussion
from node.federation.vocab import AS_NS
from node.members.posting import post_comment
from node.services.publish import publish_article
from node.services.setup import add_author
from tests.fakes.remote import fake_remote
from tests.fakes.website import article_html, fake_website
from tests.support import make_settings, running_node
from tests.threads_support import deliver, publish_topic, reply

ATOM = "application/atom+xml"


@pytest.fixture
async def forum(node):
    """A node with the article "Topic" (by the editor), and a fake remote with alice and bob."""
    await publish_topic(node, "Let us *talk*.")
    async with fake_remote() as remote:
        actors = {name: remote.add_actor(name, key_index=i) for i, name in enumerate(("alice", "bob"))}
        yield node, actors, node.url("/articles/topic")


async def fetch(http, url: str, headers=None):
    async with http.get(url, headers=headers or {}) as response:
        return response.status, await response.read(), CIMultiDict(response.headers)


async def feed_of(http, url: str):
    status, body, headers = await fetch(http, url)
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith(ATOM)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed, headers


async def discovered(http, page_url: str) -> list[str]:
    """The Atom feeds a page names in <link rel="alternate" type="application/atom+xml">."""
    async with http.get(page_url, headers={"Accept": "text/html"}) as response:
        html = await response.text()
    return [re.search(r'href="([^"]+)"', tag).group(1)
            for tag in re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]*>', html)]


async def test_the_article_page_names_its_comment_feed_and_the_site_feed(forum, http):
    node, _, article = forum
    async with node.node.sessions() as session:
        row = await queries.get_object(session, article)
    assert await discovered(http, article) == ["/feeds/articles.atom", f"/feeds/threads/{row.id}.atom"]
    assert await discovered(http, node.url("/")) == ["/feeds/articles.atom"]


async def test_the_site_feed_lists_its_articles_whole(forum, http):
    node, _, article = forum
    parsed, headers = await feed_of(http, node.url("/feeds/articles.atom"))
    assert parsed.feed.title == node.settings.site_name
    assert parsed.feed.id == node.url("/feeds/articles.atom")
    assert headers["Access-Control-Allow-Origin"] == "*"
    [entry] = parsed.entries
    assert (entry.id, entry.title, entry.link) == (article, "Topic", article)
    assert entry.content[0].value == "<p>Let us <em>talk</em>.</p>"
    assert entry.updated_parsed is not None and entry.author == "Editor"


async def test_a_thread_feed_holds_its_new_comments_newest_first(forum, http):
    node, actors, article = forum
    first = await reply(node, http, actors["alice"], article, "<p>First!</p>")
    second = await reply(node, http, actors["bob"], first["id"], "<p>Second.</p>")
    [link] = [href for href in await discovered(http, article) if "/threads/" in href]
    parsed, _ = await feed_of(http, node.url(link))
    assert parsed.feed.title == "Comments on “Topic”"
    assert parsed.feed.link == article
    assert [e.id for e in parsed.entries] == [second["id"], first["id"]]
    entry = parsed.entries[1]
    assert entry.title == "Alice on “Topic”" and entry.content[0].value == "<p>First!</p>"
    assert entry.link.startswith(article + "?thread=") and entry.link.endswith("#c-" + entry.link.split("=")[1].split("#")[0])
    assert entry.published_parsed[:3] == (2026, 11, 24)
    assert parsed.feed.updated == parsed.entries[0].updated


async def test_hostile_comments_and_names_come_through_sanitised_and_escaped(forum, http):
    """A script never reaches the feed; markup in a name is text, and the XML stays well formed."""
    node, _, article = forum
    async with fake_remote() as remote:
        mallory = remote.add_actor("mallory", key_index=2, name="</name><x>&amp; Mallory")
        await reply(node, http, mallory, article, '<p onclick="x()">hi<script>alert(1)</script>]]></p>')
        async with node.node.sessions() as session:
            row = await queries.get_object(session, article)
        status, body, _ = await fetch(http, node.url(f"/feeds/threads/{row.id}.atom"))
    assert b"<script" not in body and b"onclick" not in body and b"<x>" not in body
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    [entry] = parsed.entries
    assert entry.author == "</name><x>&amp; Mallory"
    assert entry.content[0].value == "<p>hi]]&gt;</p>"


async def test_held_deleted_and_followers_only_comments_stay_out(tmp_path, http):
    settings = make_settings(tmp_path, moderation_hold_links=True)
    async with running_node(settings) as node, fake_remote() as remote:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Talk."), author)
            article_id = (await queries.get_object(session, node.url("/articles/topic"))).id
        article = node.url("/articles/topic")
        alice, bob = remote.add_actor("alice", key_index=0), remote.add_actor("bob", key_index=1)
        shown = await reply(node, http, alice, article, "<p>plain</p>")
        await reply(node, http, bob, article, '<p><a href="https://spam.example/">held</a></p>')
        await reply(node, http, alice, article, "<p>friends only</p>", public=False)
        gone = await reply(node, http, alice, article, "<p>regretted</p>")
        await deliver(node, http, alice, {"@context": AS_NS, "id": gone["id"] + "#delete", "type": "Delete",
                                           "actor": alice.id, "object": {"id": gone["id"], "type": "Tombstone"}})
        parsed, _ = await feed_of(http, node.url(f"/feeds/threads/{article_id}.atom"))
    assert [e.id for e in parsed.entries] == [shown["id"]]


async def test_a_discussed_page_has_a_comment_feed_titled_after_the_page(node, http):
    async with fake_website() as site, fake_remote() as remote:
        site.page("/story", article_html("A <story> & more"))
        opened = await open_discussion(node.node, site.url("/story"))
        thread = node.url(f"/discussions/{opened.document.id}")
        posted = await reply(node, http, remote.add_actor("alice"), thread, "<p>About the story</p>")
        feeds = await discovered(http, thread)
        parsed, _ = await feed_of(http, node.url(feeds[-1]))
    assert parsed.feed.title == "Comments on “A <story> & more”"
    assert parsed.feed.link == thread
    assert [e.id for e in parsed.entries] == [posted["id"]]


async def test_a_members_feed_lists_their_comments_across_threads(forum, http):
    """A local person's comments (posted through node.members.posting), newest first, found from their profile."""
    node, actors, article = forum
    async with node.node.sessions.begin() as session:
        dana, _ = await add_author(session, node.settings, "dana", "Dana <D>")
    first = await post_comment(node.node, dana.id, article, "I *agree*.")
    answer = await reply(node, http, actors["alice"], first.ap_id, "<p>Thanks</p>")
    second = await post_comment(node.node, dana.id, answer["id"], "You're welcome & more")
    assert "/feeds/members/dana.atom" in await discovered(http, node.url("/@dana"))
    parsed, _ = await feed_of(http, node.url("/feeds/members/dana.atom"))
    assert parsed.feed.title == f"Comments by Dana <D> (@dana@{node.settings.host})"
    assert [e.id for e in parsed.entries] == [second.ap_id, first.ap_id]
    assert parsed.entries[1].content[0].value == "<p>I <em>agree</em>.</p>"
    assert parsed.entries[0].content[0].value == "<p>You're welcome &amp; more</p>"
    assert parsed.entries[0].link.startswith(article + "?thread=")


async def test_an_unchanged_feed_answers_304_to_its_etag(forum, http):
    node, actors, article = forum
    status, _, headers = await fetch(http, node.url("/feeds/articles.atom"))
    status, body, _ = await fetch(http, node.url("/feeds/articles.atom"), {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


@pytest.mark.parametrize("path", ["/feeds/threads/999999.atom", "/feeds/threads/99999999999999999999999.atom",
                                  "/feeds/members/nobody.atom", "/feeds/members/forum.atom"])
async def test_feeds_of_things_not_here_are_404(forum, http, path):
    node, _, _ = forum
    status, _, _ = await fetch(http, node.url(path))
    assert status == 404
