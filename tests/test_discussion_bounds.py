"""A big discussion is read a bounded page at a time, in the order received, counted one way, cached until it changes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from node.commands import thread_lines
from node.content import Draft
from node.db import discussion as db_discussion
from node.db import queries
from node.db.models import Object
from node.services.publish import publish_article
from node.threads import flatten
from node.web.discussion import MAX_PAGE_DEPTH, REPLIES_PER_COMMENT, comment_place
from node.web.pages import PAGE_CACHE
from tests.fakes.remote import fake_remote
from tests.support import make_settings, running_node
from tests.threads_support import create, deliver, note, publish_topic

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
async def topic(tmp_path):
    """A node whose pages hold at most 12 comments, with the article "topic" and a remote author zed."""
    settings = make_settings(tmp_path, discussion_page_size=12)
    async with running_node(settings) as node:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
            await queries.upsert_remote_actor(session, {
                "ap_id": "https://remote.example/users/zed", "ap_type": "Person", "username": "zed",
                "domain": "remote.example", "name": "Zed"})
        yield node, node.url("/articles/topic")


async def add(node, parent_url: str, text: str, *, visibility: str = "public", deleted: bool = False) -> Object:
    """Store one comment by zed under ``parent_url`` straight in the database, as the inbox would."""
    async with node.node.sessions.begin() as session:
        parent = await queries.get_object(session, parent_url)
        root_id = parent.id if parent.kind == "article" else parent.root_id
        zed = await queries.get_actor(session, "https://remote.example/users/zed")
        count = await session.scalar(queries.select(queries.func.count(Object.id)))
        comment = Object(
            ap_id=f"https://remote.example/users/zed/statuses/{count + 1}", ap_type="Note", kind="comment",
            is_local=False, actor_id=zed.id, content=f"<p>{text}</p>", in_reply_to=parent.ap_id, parent_id=parent.id,
            root_id=root_id, visibility=visibility, published=T0 + timedelta(minutes=count),
            deleted_at=T0 if deleted else None)
        session.add(comment)
        if visibility in ("public", "unlisted"):
            parent.replies_count += 1
        await session.flush()
        return comment


async def chain(node, article: str, depth: int) -> list[Object]:
    """A chain of ``depth`` replies, each answering the one before."""
    parent, made = article, []
    for level in range(depth):
        made.append(await add(node, parent, f"level {level}"))
        parent = made[-1].ap_id
    return made


async def page(node, http, query: str = "") -> tuple[int, str]:
    async with http.get(node.url("/articles/topic" + query), headers={"Accept": "text/html"}) as response:
        return response.status, await response.text()


def shown_ids(html: str) -> list[int]:
    """The row ids of the comments a page shows, in page order."""
    return [int(n) for n in re.findall(r'<li class="comment[^"]*" id="c-(\d+)"', html)]


async def test_a_page_never_holds_more_than_the_page_size(topic, http):
    """20 replies to one comment: the page shows the comment and its first 10, and says how many are left."""
    # Given a node with discussion_page_size = 12, and one comment with 20 replies
    node, article = topic
    first = await add(node, article, "the question")
    for n in range(20):
        await add(node, first.ap_id, f"answer {n}")
    # When the discussion is opened
    status, html = await page(node, http)
    # Then it holds 12 comments, the first replies in the order received, and a link to the rest of the thread
    assert status == 200
    assert len(shown_ids(html)) == 1 + REPLIES_PER_COMMENT <= 12
    assert "answer 9" in html and "answer 10" not in html
    assert f'<a href="?thread={first.id}#c-{first.id}">Continue this thread: 10 more replies →</a>' in html


async def test_continue_this_thread_shows_the_rest_in_pages_of_its_own(topic, http):
    """The comment's own page shows it and pages its 20 replies; every reply is on one of those pages."""
    # Given one comment with 20 replies on a node of 12-comment pages
    node, article = topic
    first = await add(node, article, "the question")
    answers = [await add(node, first.ap_id, f"answer {n}") for n in range(20)]
    # When its "continue this thread" pages are read
    seen: list[int] = []
    number, count = 1, None
    while True:
        status, html = await page(node, http, f"?thread={first.id}&page={number}")
        assert status == 200
        ids = shown_ids(html)
        assert ids[0] == first.id and len(ids) <= 12  # the comment itself heads every page of its thread
        seen += ids[1:]
        if f'href="?thread={first.id}&amp;page={number + 1}#discussion"' not in html:
            break
        number += 1
    # Then all 20 replies were shown, once each, in the order received
    assert seen == [a.id for a in answers]
    assert "← The whole discussion" in html


async def test_a_deep_branch_continues_on_its_own_page(tmp_path, http):
    """A chain deeper than a page goes is cut at MAX_PAGE_DEPTH; the last comment shown leads to the rest."""
    # Given a node with the default page size and a chain of replies 4 deeper than a page shows
    async with running_node(make_settings(tmp_path)) as node:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
            await queries.upsert_remote_actor(session, {
                "ap_id": "https://remote.example/users/zed", "ap_type": "Person", "username": "zed",
                "domain": "remote.example"})
        article = node.url("/articles/topic")
        made = await chain(node, article, MAX_PAGE_DEPTH + 5)
        # When the discussion and the last shown comment's thread are opened
        _, html = await page(node, http)
        last_shown = made[MAX_PAGE_DEPTH]
        _, rest = await page(node, http, f"?thread={last_shown.id}")
    # Then the discussion stops at that comment with a link, and its page shows the rest of the chain
    assert shown_ids(html) == [c.id for c in made[:MAX_PAGE_DEPTH + 1]]
    assert f'href="?thread={last_shown.id}#c-{last_shown.id}">Continue this thread: 1 more reply' in html
    assert shown_ids(rest) == [c.id for c in made[MAX_PAGE_DEPTH:]]
    assert f'<a href="?thread={made[MAX_PAGE_DEPTH - 1].id}#c-{last_shown.id}">↑ What it answers' in rest


async def test_each_comment_gets_a_fair_share_of_a_busy_page(topic, http):
    """Three comments with many replies each: each shows its first replies before any shows a fourth."""
    # Given three comments with 10 replies each (a page holds 12)
    node, article = topic
    tops = [await add(node, article, f"top {n}") for n in range(3)]
    replies = {t.id: [await add(node, t.ap_id, f"re {n}") for n in range(REPLIES_PER_COMMENT)] for t in tops}
    # When the discussion is opened
    _, html = await page(node, http)
    # Then each comment shows its first three replies, and links to the rest
    ids = shown_ids(html)
    for top in tops:
        assert [r.id for r in replies[top.id][:3]] == [i for i in ids if i in {r.id for r in replies[top.id]}]
        assert f'href="?thread={top.id}#c-{top.id}">Continue this thread: 7 more replies' in html


async def test_an_unknown_or_private_thread_is_not_found(topic, http):
    """``?thread=`` naming no comment of this discussion, or a followers-only one, is 404; a malformed one 400."""
    # Given a followers-only comment
    node, article = topic
    private = await add(node, article, "for friends", visibility="followers")
    # When its thread, a missing one and a malformed one are asked for
    statuses = [(await page(node, http, query))[0] for query in
                (f"?thread={private.id}", "?thread=999999", "?thread=abc", "?thread=%C2%B2")]
    # Then
    assert statuses == [404, 404, 400, 400]


async def test_a_rendered_page_is_reused_until_the_thread_changes(topic, http):
    """The second view of an unchanged page is not rendered again; a new reply, an edit or a like renders it anew."""
    # Given a discussion viewed once
    node, article = topic
    first = await add(node, article, "first")
    cache = node.app[PAGE_CACHE]
    await page(node, http)
    rendered = cache.renders
    # When it is viewed again, then after a new reply, then after a like of a comment
    _, again = await page(node, http)
    after_view = cache.renders
    await add(node, first.ap_id, "a new answer")
    _, with_reply = await page(node, http)
    after_reply = cache.renders
    async with node.node.sessions.begin() as session:
        (await queries.get_object(session, first.ap_id)).likes_count += 1
    _, with_like = await page(node, http)
    # Then only the changes caused a rendering, and each shows the change
    assert after_view == rendered
    assert after_reply == rendered + 1 and "a new answer" in with_reply and "a new answer" not in again
    assert cache.renders == rendered + 2 and '<span class="likes">1 like</span>' in with_like


async def test_a_comment_too_deep_for_the_discussion_is_found_on_its_parents_page(tmp_path, http):
    """The place of a comment below the page depth is its parent's thread page, at #c-<id>, which shows it."""
    async with running_node(make_settings(tmp_path)) as node:
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
            await queries.upsert_remote_actor(session, {
                "ap_id": "https://remote.example/users/zed", "ap_type": "Person", "username": "zed",
                "domain": "remote.example"})
        article = node.url("/articles/topic")
        # Given a chain deeper than a page shows
        made = await chain(node, article, MAX_PAGE_DEPTH + 3)
        deep, shallow = made[-1], made[2]
        # When their places are asked for
        async with node.node.sessions() as session:
            root = await queries.get_object(session, article)
            deep_place = await comment_place(session, root, deep, page_size=150)
            shallow_place = await comment_place(session, root, shallow, page_size=150)
        _, html = await page(node, http, deep_place.removeprefix(article).split("#")[0])
    # Then the shallow one is on the discussion, the deep one on its parent's thread page, which holds it
    assert shallow_place == f"{article}#c-{shallow.id}"
    assert deep_place == f"{article}?thread={made[-2].id}#c-{deep.id}"
    assert f'id="c-{deep.id}"' in html


# --- the order received, and stable anchors (issue 16, item 13) ---------------------------------------


async def test_a_reply_with_an_old_date_goes_after_the_replies_received_before_it(node, http):
    """A Mastodon reply claiming ``published: 1999-01-01`` is shown after the older replies, at its own id anchor."""
    # Given Alice's reply, then Bob's reply whose sender's clock says 1999
    await publish_topic(node)
    article = node.url("/articles/topic")
    async with fake_remote() as remote:
        alice, bob = remote.add_actor("alice", key_index=0), remote.add_actor("bob", key_index=1)
        first = note(alice, article, "<p>received first</p>")
        await deliver(node, http, alice, create(alice, first))
        late = note(bob, article, "<p>dated 1999</p>", published="1999-01-01T00:00:00Z")
        await deliver(node, http, bob, create(bob, late))
        # When the page is opened
        _, html = await page(node, http)
        async with node.node.sessions() as session:
            ids = [(await queries.get_object(session, n["id"])).id for n in (first, late)]
    # Then the first received is first, and each comment is at #c-<its id>
    assert html.index("received first") < html.index("dated 1999")
    assert shown_ids(html) == ids
    assert 'id="comment-1"' in html and 'id="comment-2"' in html  # the position anchors still lead somewhere


# --- one comment count (issue 16, item 12) ------------------------------------------------------------


async def test_the_front_page_the_article_page_and_fednode_thread_count_the_same_comments(topic, http):
    """A top-level comment, a nested reply, a deleted one and a followers-only one count 2 everywhere."""
    # Given those four comments
    node, article = topic
    top = await add(node, article, "top")
    await add(node, top.ap_id, "nested")
    await add(node, article, "gone", deleted=True)
    await add(node, article, "friends only", visibility="followers")
    # When the front page, the article page and fednode thread's text are read
    async with http.get(node.url("/")) as response:
        front = await response.text()
    _, html = await page(node, http)
    async with node.node.sessions() as session:
        root = await queries.get_object(session, article)
        rows = flatten(list(await queries.list_thread(session, root.id)), root.ap_id)
        counted = await db_discussion.count_comments(session, root.id)
    lines = thread_lines(root, rows, [], None)
    # Then all say 2
    assert counted == 2
    assert "· 2 comments</p>" in front
    assert "Discussion (2)" in html and ">2 comments</a>" in html
    assert lines[2].startswith("2 comments")


async def test_the_bounded_page_reads_the_same_on_postgresql(tmp_path, http):
    """On PostgreSQL too, a busy comment shows its first 10 replies, a deep chain stops at MAX_PAGE_DEPTH, counts agree."""
    from tests.support import postgres_database

    async with postgres_database() as url:
        async with running_node(make_settings(tmp_path, database_url=url)) as node:
            async with node.node.sessions.begin() as session:
                author = await queries.get_local_actor(session, "editor")
                await publish_article(session, node.settings, Draft("Topic", "topic", "Let us talk."), author)
                await queries.upsert_remote_actor(session, {
                    "ap_id": "https://remote.example/users/zed", "ap_type": "Person", "username": "zed",
                    "domain": "remote.example"})
            article = node.url("/articles/topic")
            # Given a comment with 12 replies and a chain deeper than a page
            busy = await add(node, article, "busy")
            answers = [await add(node, busy.ap_id, f"answer {n}") for n in range(12)]
            made = await chain(node, article, MAX_PAGE_DEPTH + 2)
            # When the discussion is opened
            status, html = await page(node, http)
        # Then it is bounded as on SQLite
        ids = shown_ids(html)
        assert status == 200 and "Discussion (25)" in html
        assert [a.id for a in answers[:REPLIES_PER_COMMENT]] == [i for i in ids if i in {a.id for a in answers}]
        assert [c.id for c in made[:MAX_PAGE_DEPTH + 1]] == [i for i in ids if i in {c.id for c in made}]
