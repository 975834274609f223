"""The discussion under an article, as a reader sees it: who wrote what, when, how it nests, what is missing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from node.db import queries
from node.db.models import Object
from node.federation.vocab import AS_NS, PUBLIC
from node.threads import MAX_INDENT
from node.web.discussion import TOP_PER_PAGE as THREADS_PER_PAGE
from node.web.pages import comment_url
from tests.fakes.remote import fake_remote
from tests.threads_support import deliver, publish_topic, reply

NOFOLLOW = 'rel="nofollow noopener noreferrer"'
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
async def thread(node):
    """A node with the article "topic", and a fake Mastodon-like server with actors alice, bob and mallory."""
    await publish_topic(node)
    async with fake_remote() as remote:
        actors = {
            "alice": remote.add_actor("alice", key_index=0, name="Alice Liddell"),
            "bob": remote.add_actor("bob", key_index=1),
            "mallory": remote.add_actor("mallory", key_index=2, name="<script>x</script>"),
        }
        yield node, remote, actors, node.url("/articles/topic")


async def page(node, http, query: str = "") -> tuple[int, str]:
    async with http.get(node.url("/articles/topic" + query), headers={"Accept": "text/html"}) as response:
        return response.status, await response.text()


def comment_block(html: str, number: str) -> str:
    """The HTML of the comment numbered ``number`` (up to the next comment)."""
    start = html.index(f'id="comment-{number}"')
    following = html.find('<li class="comment', start)
    return html[start:following if following >= 0 else len(html)]


def block_with(html: str, text: str) -> str:
    """The HTML of the comment whose text holds ``text`` (from its ``<li>`` to the next comment's)."""
    start = html.rindex('<li class="comment', 0, html.index(text))
    following = html.find('<li class="comment', start + 1)
    return html[start:following if following >= 0 else len(html)]


def numbers(html: str) -> list[str]:
    return re.findall(r'<span class="number">([\d.]+)</span>', html)


async def test_comment_shows_its_author_time_and_original(thread, http):
    """A remote comment shows its author's display name, @handle and server, and its time links to the original."""
    # Given a reply by Alice, whose display name is "Alice Liddell", with a web page of its own
    node, remote, actors, article = thread
    obj = await reply(node, http, actors["alice"], article, "<p>First!</p>", url=f"{remote.base}/@alice/1")
    # When the article page is opened
    status, html = await page(node, http)
    # Then the comment names her, her handle on her server, and links its time to where it lives
    block = comment_block(html, "1")
    assert status == 200
    assert "Alice Liddell" in block
    host = remote.base.removeprefix("http://")
    assert f'@alice<span class="server">@{host}</span>' in block
    assert re.search(rf'<a class="original" href="{re.escape(obj["url"])}" {NOFOLLOW}><time datetime="2026-11-24T10:', block)


async def test_comment_without_display_name_shows_its_username(thread, http):
    """An author with no display name is shown by username."""
    # Given a reply by Bob, whose actor has no name
    node, remote, actors, article = thread
    actors["bob"].document.pop("name")
    await reply(node, http, actors["bob"], article)
    # When the page is opened
    _, html = await page(node, http)
    # Then his username stands in for the name
    assert re.search(r'class="author"[^>]*>bob</a>', comment_block(html, "1"))


async def test_likes_and_boosts_are_shown_on_the_article_and_comments(thread, http):
    """Like and boost counts appear under the article and under a comment."""
    # Given a comment, liked by Bob, and the article liked and boosted by Alice
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    obj = await reply(node, http, alice, article)
    await deliver(node, http, bob, {"@context": AS_NS, "id": bob.id + "#likes/1", "type": "Like", "actor": bob.id, "object": obj["id"]})
    await deliver(node, http, alice, {"@context": AS_NS, "id": alice.id + "#likes/2", "type": "Like", "actor": alice.id, "object": article})
    await deliver(node, http, alice, {"@context": AS_NS, "id": alice.id + "#boosts/1", "type": "Announce", "actor": alice.id,
                                       "object": article, "to": [PUBLIC]})
    # When the page is opened
    _, html = await page(node, http)
    # Then the counts are there, each in its place
    head = html[:html.index('id="discussion"')]
    assert '<span class="likes">1 like</span>' in head and '<span class="boosts">1 boost</span>' in head
    assert '<span class="likes">1 like</span>' in comment_block(html, "1")


async def test_edited_comment_says_when_it_was_edited(thread, http):
    """A comment changed by an Update is marked "edited" with the time of the edit."""
    # Given a reply, then an Update of it at 12:00
    node, remote, actors, article = thread
    alice = actors["alice"]
    obj = await reply(node, http, alice, article, "<p>v1</p>")
    edited = {**obj, "content": "<p>v2</p>", "updated": "2026-11-24T12:00:00Z"}
    await deliver(node, http, alice, {"@context": AS_NS, "id": obj["id"] + "#u1", "type": "Update", "actor": alice.id, "object": edited})
    # When the page is opened
    _, html = await page(node, http)
    # Then the comment shows the new text and when it was edited
    block = comment_block(html, "1")
    assert "v2" in block
    assert '<span class="edited">edited <time datetime="2026-11-24T12:00:00Z" title="2026-11-24 12:00 UTC">' in block


async def test_unedited_comment_has_no_edited_marker(thread, http):
    """A comment never edited carries no "edited" marker."""
    # Given a reply never updated
    node, remote, actors, article = thread
    await reply(node, http, actors["alice"], article)
    # When the page is opened
    _, html = await page(node, http)
    # Then nothing says it was edited
    assert 'class="edited"' not in comment_block(html, "1")


async def test_deleted_comment_keeps_its_place_and_its_replies(thread, http):
    """A deleted comment becomes a numbered "[deleted]" placeholder and its reply stays nested under it as 1.1."""
    # Given Alice's comment, Bob's reply to it, then Alice deleting hers
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    middle = await reply(node, http, alice, article, "<p>middle</p>")
    await reply(node, http, bob, middle["id"], "<p>leaf</p>")
    await deliver(node, http, alice, {"@context": AS_NS, "id": middle["id"] + "#delete", "type": "Delete",
                                       "actor": alice.id, "object": {"id": middle["id"], "type": "Tombstone"}})
    # When the page is opened
    _, html = await page(node, http)
    # Then 1 is a placeholder without text or author, and 1.1 is Bob's reply, one level in
    placeholder = comment_block(html, "1")
    assert "[deleted]" in placeholder and "middle" not in placeholder and "Alice" not in placeholder
    assert numbers(html) == ["1", "1.1"]
    assert 'class="comment depth-1"' in html and "leaf" in comment_block(html, "1.1")


async def test_leading_mastodon_mention_is_folded(thread, http):
    """A Mastodon reply's leading "@editor" mention is not shown; its text is."""
    # Given a reply shaped as Mastodon writes it, starting with a mention of the article's author
    node, remote, actors, article = thread
    mention = (f'<span class="h-card" translate="no"><a href="{node.url("/@editor")}" class="u-url mention">'
               f'@<span>editor</span></a></span>')
    await reply(node, http, actors["alice"], article, f"<p>{mention} thanks!</p>")
    # When the page is opened
    _, html = await page(node, http)
    # Then the comment reads "thanks!" without the mention
    block = comment_block(html, "1")
    assert '<div class="content"><p>thanks!</p></div>' in block
    assert "@<span>editor</span>" not in block


async def test_mentions_inside_the_text_are_kept(thread, http):
    """A mention that is part of a sentence stays; a hashtag at the start stays too."""
    # Given a reply that starts with a hashtag and mentions someone mid-sentence
    node, remote, actors, article = thread
    text = ('<p><a href="https://x.example/tags/go" class="mention hashtag">#<span>go</span></a> ask '
            '<span class="h-card"><a href="https://x.example/@bob" class="u-url mention">@<span>bob</span></a></span></p>')
    await reply(node, http, actors["alice"], article, text)
    # When the page is opened
    _, html = await page(node, http)
    # Then both are still there
    block = comment_block(html, "1")
    assert "#<span>go</span>" in block and "@<span>bob</span>" in block


async def test_hostile_display_name_is_shown_as_text(thread, http):
    """A remote display name holding a script tag is escaped on the page."""
    # Given a reply by mallory, whose actor document's name is "<script>x</script>"
    node, remote, actors, article = thread
    await reply(node, http, actors["mallory"], article)
    # When the page is opened
    _, html = await page(node, http)
    # Then the name is text, not markup
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in comment_block(html, "1")


async def test_non_http_links_from_remote_servers_are_not_linked(thread, http):
    """A comment whose ``url`` is a javascript: URL links to its id instead."""
    # Given a reply whose url field is javascript:
    node, remote, actors, article = thread
    obj = await reply(node, http, actors["alice"], article, url="javascript:alert(1)")
    # When the page is opened
    _, html = await page(node, http)
    # Then no link leads to javascript:, and the time links to the comment's id
    assert "javascript:" not in html
    assert f'href="{obj["id"]}"' in comment_block(html, "1")


async def test_every_comment_and_the_article_have_a_reply_link(thread, http):
    """The article and each comment link to the "reply from your server" form for their own id."""
    # Given a reply
    node, remote, actors, article = thread
    obj = await reply(node, http, actors["alice"], article)
    # When the page is opened
    _, html = await page(node, http)
    # Then both reply links name the object to answer
    assert f'href="/interact?uri={quote(article, safe="")}"' in html
    assert f'href="/interact?uri={quote(obj["id"], safe="")}"' in comment_block(html, "1")


async def test_deep_thread_stops_indenting_and_says_what_it_answers(thread, http):
    """Past the indent cap, comments stay at the cap and say "in reply to" whom, linking to that comment's anchor."""
    # Given a chain of replies two levels deeper than the indent cap
    node, remote, actors, article = thread
    parent, chain = article, []
    for level in range(MAX_INDENT + 3):
        who = actors["alice" if level % 2 == 0 else "bob"]
        parent = (await reply(node, http, who, parent, f"<p>level {level}</p>"))["id"]
        chain.append(parent)
    # When the page is opened
    _, html = await page(node, http)
    # Then no comment is indented past the cap, the deepest name their parent, and shallower ones do not
    assert max(int(d) for d in re.findall(r'class="comment depth-(\d+)', html)) == MAX_INDENT
    deepest = ".".join(["1"] * (MAX_INDENT + 3))
    async with node.node.sessions() as session:
        answered = await queries.get_object(session, chain[-2])
    assert f'in reply to <a href="#c-{answered.id}">Alice Liddell</a>' in comment_block(html, deepest)
    assert "in reply to" not in comment_block(html, "1.1")


async def test_followers_only_reply_is_not_on_the_page(thread, http):
    """A followers-only reply is not shown; a public answer to it is, marked as answering something not shown."""
    # Given Alice's followers-only reply and Bob's public answer to it
    node, remote, actors, article = thread
    private = await reply(node, http, actors["alice"], article, "<p>just for friends</p>", public=False)
    await reply(node, http, actors["bob"], private["id"], "<p>public answer</p>")
    # When the page is opened
    _, html = await page(node, http)
    # Then the private text is nowhere, nor counted, and Bob's answer says it answers something not shown
    assert "just for friends" not in html
    assert "Discussion (1)" in html
    assert "in reply to a message not shown here" in block_with(html, "public answer")


async def test_replies_waiting_for_their_parent_are_announced(thread, http):
    """Replies parked until the message they answer arrives are counted on the page, a reply to them too."""
    # Given Bob's reply (naming this thread's context) to a comment of Alice's that cannot be fetched yet,
    # and Alice's answer to Bob's reply
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    missing = f"{alice.id}/statuses/missing"
    parked = await reply(node, http, bob, missing, "<p>early</p>", context=article + "/context")
    await reply(node, http, alice, parked["id"], "<p>earlier still</p>")
    # When the page is opened
    _, html = await page(node, http)
    # Then the page says two replies are still waiting, and shows neither
    assert "2 replies are waiting for earlier messages to arrive" in html
    assert "early" not in html


async def test_waiting_followers_only_reply_is_not_counted(thread, http):
    """A parked followers-only reply is not counted on the public page."""
    # Given a parked followers-only reply naming this thread's context
    node, remote, actors, article = thread
    bob = actors["bob"]
    await reply(node, http, bob, f"{bob.id}/statuses/missing", "<p>hush</p>", public=False, context=article + "/context")
    # When the page is opened
    _, html = await page(node, http)
    # Then nothing says a reply is waiting
    assert "waiting for earlier messages" not in html


async def test_reply_elsewhere_waiting_for_its_parent_is_not_counted(thread, http):
    """A parked reply that names neither this thread nor its context is not counted here."""
    # Given a parked reply to an unknown post, in another context
    node, remote, actors, article = thread
    bob = actors["bob"]
    await reply(node, http, bob, f"{bob.id}/statuses/missing", "<p>elsewhere</p>", context=f"{remote.base}/contexts/other")
    # When the page is opened
    _, html = await page(node, http)
    # Then nothing says a reply is waiting
    assert "waiting for earlier messages" not in html


async def add_top_level_comments(node, article_url: str, count: int) -> None:
    """Insert ``count`` public top-level comments, and one reply to the last comment of the first page.

    Written straight into the database: delivering 55 signed activities would
    test the inbox again and take much longer; the page reads the same rows.
    """
    async with node.node.sessions.begin() as session:
        root = await queries.get_object(session, article_url)
        actor = await queries.upsert_remote_actor(session, {
            "ap_id": "https://remote.example/users/zed", "ap_type": "Person", "username": "zed", "domain": "remote.example",
        })
        last_of_first_page = None
        for n in range(1, count + 1):
            comment = Object(
                ap_id=f"https://remote.example/users/zed/statuses/{n}", ap_type="Note", kind="comment", is_local=False,
                actor_id=actor.id, content=f"<p>top {n}</p>", in_reply_to=root.ap_id, parent_id=root.id,
                root_id=root.id, context=root.context, visibility="public", published=T0 + timedelta(minutes=n),
            )
            session.add(comment)
            if n == THREADS_PER_PAGE:
                last_of_first_page = comment
        await session.flush()
        session.add(Object(
            ap_id="https://remote.example/users/zed/statuses/late", ap_type="Note", kind="comment", is_local=False,
            actor_id=actor.id, content="<p>late answer to the fiftieth</p>", in_reply_to=last_of_first_page.ap_id,
            parent_id=last_of_first_page.id, root_id=root.id, context=root.context, visibility="public",
            published=T0 + timedelta(days=1),
        ))


async def test_large_discussion_is_paged_by_top_level_threads(thread, http):
    """55 top-level comments make two pages; the first ends with comment 50 and its late reply 50.1."""
    # Given 55 top-level comments, and a reply to the 50th written after all of them
    node, remote, actors, article = thread
    await add_top_level_comments(node, article, 55)
    # When the first page is opened
    status, html = await page(node, http)
    # Then it holds threads 1 to 50, the 50th with its reply, and links to page 2
    assert status == 200
    assert numbers(html) == [str(n) for n in range(1, 51)] + ["50.1"]
    assert 'href="?page=2#discussion"' in html and "late answer to the fiftieth" in html


async def test_second_page_continues_the_numbering(thread, http):
    """Page 2 of a 55-thread discussion starts at comment 51 and links back to page 1."""
    # Given 55 top-level comments
    node, remote, actors, article = thread
    await add_top_level_comments(node, article, 55)
    # When page 2 is opened
    status, html = await page(node, http, "?page=2")
    # Then it holds 51 to 55, numbered as in the whole discussion
    assert status == 200
    assert numbers(html) == ["51", "52", "53", "54", "55"]
    assert 'href="?page=1#discussion"' in html and "Discussion (56)" in html


@pytest.mark.parametrize("query, expected", [("?page=3", 404), ("?page=0", 400), ("?page=two", 400)])
async def test_pages_past_the_end_or_malformed_are_refused(thread, http, query, expected):
    """A page past the last is 404; a page that is not a positive number is 400."""
    # Given a discussion of one page
    node, remote, actors, article = thread
    await add_top_level_comments(node, article, 55)
    # When a page outside it is asked for
    status, _ = await page(node, http, query)
    # Then it is refused
    assert status == expected


async def test_small_discussion_has_no_page_links(thread, http):
    """A discussion that fits on one page shows no page navigation."""
    # Given a single reply
    node, remote, actors, article = thread
    await reply(node, http, actors["alice"], article)
    # When the page is opened
    _, html = await page(node, http)
    # Then there are no page links
    assert 'class="pages"' not in html


async def test_a_comment_on_the_second_page_is_found_there(thread, http):
    """The place of the 52nd comment is page 2 at its stable anchor #c-<id>; that page holds it and its old anchor."""
    # Given 55 top-level comments
    node, remote, actors, article = thread
    await add_top_level_comments(node, article, 55)
    # When the place of the 52nd is asked for
    async with node.node.sessions() as session:
        comment = await queries.get_object(session, "https://remote.example/users/zed/statuses/52")
        place = await comment_url(session, comment, page_size=node.settings.discussion_page_size)
    # Then it is on page 2, and both anchors are there
    assert place == article + f"?page=2#c-{comment.id}"
    _, html = await page(node, http, "?page=2")
    assert f'id="c-{comment.id}"' in html and 'id="comment-52"' in html
