"""The read API: a thread by page address or id, its comments nested and paged, counts, CORS.

Real node, real signed deliveries from a fake Mastodon-like server, a fake website for
discussed pages; every response is checked against its published JSON Schema.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from node.db import queries
from node.db.models import DiscussionDocument
from node.discussions.service import open_discussion
from node.federation.vocab import AS_NS
from node.web.discussion import REPLIES_PER_COMMENT
from tests.api_support import assert_valid, get_json
from tests.fakes.remote import fake_remote
from tests.fakes.website import article_html, fake_website
from tests.support import make_settings, running_node
from tests.threads_support import deliver, publish_topic, reply, thread  # noqa: F401 (thread: a fixture)


@pytest.fixture
async def forum(thread):
    """A node with the article "Topic", and actors alice, bob and carol on a fake remote server."""
    node, _remote, actors, article = thread
    return node, actors, article


@pytest.fixture
async def site():
    async with fake_website() as website:
        yield website


async def thread_api(http, node, **params):
    return await get_json(http, node.url("/api/v1/thread"), params=params)


def flatten(comments: list[dict]) -> list[dict]:
    out, stack = [], list(reversed(comments))
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(reversed(item["replies"]))
    return out


# --- a thread by address ----------------------------------------------------------------------


async def test_a_local_article_is_found_by_its_url_with_its_comments_nested(forum, http):
    """Replies and a reply to a reply come back nested, with author, sanitised HTML, dates and counts."""
    node, actors, article = forum
    first = await reply(node, http, actors["alice"], article, "<p>First!</p>")
    answer = await reply(node, http, actors["bob"], first["id"], "<p>Agreed.</p>")
    status, body, headers = await thread_api(http, node, url=article)
    assert status == 200, body
    assert_valid("thread", body)
    summary = body["thread"]
    assert (summary["id"], summary["url"], summary["title"], summary["kind"]) == (article, article, "Topic", "article")
    assert summary["comments_count"] == 2 and summary["closed_at_source"] is False
    assert summary["html_url"] == article
    [top] = body["comments"]
    assert top["id"] == first["id"] and top["content"] == "<p>First!</p>"
    alice = actors["alice"].document
    assert top["author"] == {"name": "Alice", "handle": f"@alice@{urlsplit(alice['id']).netloc}",
                             "url": alice["url"], "avatar": None}
    assert top["published"].endswith("Z") and top["likes"] == 0 and top["boosts"] == 0
    assert [r["id"] for r in top["replies"]] == [answer["id"]]
    assert top["replies"][0]["in_reply_to"] == first["id"]
    assert body["next_cursor"] is None and body["next"] is None


async def test_the_answer_is_public_json_for_any_origin_without_credentials(forum, http):
    """Any page may read it (Access-Control-Allow-Origin: *), and no cookie is ever involved."""
    node, actors, article = forum
    status, _, headers = await get_json(http, node.url("/api/v1/thread"), params={"url": article},
                                        headers={"Origin": "https://blog.example"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Set-Cookie" not in headers
    assert headers["Content-Type"].startswith("application/json")


async def test_a_discussed_page_is_found_by_any_spelling_of_its_address(node, site, http):
    """Tracking parameters, a fragment, a trailing slash: the one link thread, with its page and title."""
    site.page("/story", article_html("A story", site_name="Daily", canonical=site.url("/story")))
    opened = await open_discussion(node.node, site.url("/story"))
    for variant in (site.url("/story"), site.url("/story/?utm_source=x&fbclid=1#c"), site.url("/story#top")):
        status, body, _ = await thread_api(http, node, url=variant)
        assert status == 200, (variant, body)
        assert_valid("thread", body)
        summary = body["thread"]
        assert summary["id"] == node.url(f"/discussions/{opened.document.id}")
        assert summary["html_url"] == node.url(f"/discussions/{opened.document.id}")
        assert (summary["url"], summary["title"], summary["site_name"], summary["kind"]) == (
            site.url("/story"), "A story", "Daily", "link")
    assert site.hits("/story") == 1, "step: only opening fetched the page"


async def test_asking_about_an_unknown_page_is_404_and_neither_fetches_nor_opens(node, site, http):
    """No leak, no cost: the site is never asked and nothing is stored."""
    site.page("/never", article_html("Never asked"))
    status, body, headers = await thread_api(http, node, url=site.url("/never?utm_medium=x"))
    assert status == 404
    assert_valid("error", body)
    assert body["canonical"] == site.url("/never")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert site.requests == []
    async with node.node.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DiscussionDocument)) == 0


@pytest.mark.parametrize("params, reason", [
    ({}, "?url="),
    ({"url": "https://a.example/x", "id": "https://a.example/y"}, "one of them"),
    ({"url": "javascript:alert(1)"}, "url:"),
    ({"url": "ftp://files.example/a"}, "url:"),
    ({"url": "https://a.example/" + "x" * 3000}, "url:"),
    ({"id": "https://a.example/" + "x" * 3000}, "id:"),
    ({"id": "https://a.example/x", "cursor": "42"}, "cursor"),
    ({"id": "https://a.example/x", "cursor": "a" + "9" * 40}, "cursor"),
    ({"id": "https://a.example/x", "limit": "0"}, "limit"),
    ({"id": "https://a.example/x", "limit": "51"}, "limit"),
    ({"id": "https://a.example/x", "limit": "²"}, "limit"),
])
async def test_bad_parameters_are_400_with_a_reason(node, http, params, reason):
    """Each bad parameter is refused with a reason naming it, as JSON a script on any origin can read."""
    status, body, headers = await thread_api(http, node, **params)
    assert status == 400, body
    assert_valid("error", body)
    assert reason in body["error"]
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_an_unknown_id_is_404(node, http):
    status, body, _ = await thread_api(http, node, id=node.url("/articles/nothing-here"))
    assert status == 404 and "no such" in body["error"]


# --- what is shown ----------------------------------------------------------------------------


async def test_only_published_public_comments_appear_and_count(tmp_path, http):
    """A held comment and a followers-only one are absent and uncounted; a public reply to the held one stays, marked."""
    settings = make_settings(tmp_path, moderation_hold_links=True)
    async with running_node(settings) as node, fake_remote() as remote:
        await publish_topic(node)
        article = node.url("/articles/topic")
        alice, bob = remote.add_actor("alice", key_index=0), remote.add_actor("bob", key_index=1)
        shown = await reply(node, http, alice, article, "<p>plain words</p>")
        held = await reply(node, http, bob, article, '<p>buy <a href="https://spam.example/">this</a></p>')
        private = await reply(node, http, alice, article, "<p>friends only</p>", public=False)
        under_held = await reply(node, http, alice, held["id"], "<p>what is this?</p>")
        async with node.node.sessions() as session:
            assert (await queries.get_object(session, held["id"])).moderation == "held"
        status, body, _ = await thread_api(http, node, url=article)
        assert_valid("thread", body)
        ids = [c["id"] for c in flatten(body["comments"])]
        assert ids == [shown["id"], under_held["id"]]
        assert body["comments"][1]["orphan"] is True
        assert body["thread"]["comments_count"] == 2
        assert private["id"] not in str(body) and "spam.example" not in str(body)
        status, counted, _ = await get_json(http, node.url("/api/v1/counts"), params={"url": article})
        assert counted == {"counts": {article: 2}}
        status, body, _ = await thread_api(http, node, id=held["id"])
        assert status == 404, "step: a held comment is not found by its id either"


async def test_the_discussions_lookup_counts_what_the_api_counts(tmp_path, http):
    """/discussions.json and /api/v1/counts agree: a held comment counts in neither."""
    settings = make_settings(tmp_path, moderation_hold_links=True)
    async with running_node(settings) as node, fake_remote() as remote, fake_website() as site:
        site.page("/story", article_html("A story"))
        opened = await open_discussion(node.node, site.url("/story"))
        thread = node.url(f"/discussions/{opened.document.id}")
        alice, bob = remote.add_actor("alice", key_index=0), remote.add_actor("bob", key_index=1)
        await reply(node, http, alice, thread, "<p>plain</p>")
        held = await reply(node, http, bob, thread, '<p><a href="https://spam.example/">held</a></p>')
        async with node.node.sessions() as session:
            assert (await queries.get_object(session, held["id"])).moderation == "held"
        _, lookup, _ = await get_json(http, node.url("/discussions.json"), params={"url": site.url("/story")})
        _, counted, _ = await get_json(http, node.url("/api/v1/counts"), params={"url": site.url("/story")})
        assert lookup["discussion"]["comments"] == counted["counts"][site.url("/story")] == 1


async def test_a_deleted_comment_is_a_placeholder_that_keeps_its_replies(forum, http):
    node, actors, article = forum
    alice, bob = actors["alice"], actors["bob"]
    middle = await reply(node, http, alice, article, "<p>middle</p>")
    leaf = await reply(node, http, bob, middle["id"], "<p>leaf</p>")
    await deliver(node, http, alice, {"@context": AS_NS, "id": middle["id"] + "#delete", "type": "Delete",
                                       "actor": alice.id, "object": {"id": middle["id"], "type": "Tombstone"}})
    _, body, _ = await thread_api(http, node, url=article)
    assert_valid("thread", body)
    [placeholder] = body["comments"]
    assert placeholder["deleted"] is True
    assert (placeholder["author"], placeholder["content"], placeholder["url"]) == (None, None, None)
    assert placeholder["replies"][0]["id"] == leaf["id"] and placeholder["replies"][0]["content"] == "<p>leaf</p>"
    assert body["thread"]["comments_count"] == 1


async def test_hostile_html_comes_back_sanitised_and_names_as_plain_text(forum, http):
    """What a script would insert is the stored, sanitised HTML; a hostile display name is data, not markup."""
    node, actors, article = forum
    async with fake_remote() as remote:
        mallory = remote.add_actor("mallory", key_index=2, name='<img src=x onerror=alert(1)>Mallory')
        await reply(node, http, mallory, article,
                    '<p onclick="steal()">hi<script>alert(2)</script><a href="javascript:alert(3)">x</a></p>')
        _, body, _ = await thread_api(http, node, url=article)
    [comment] = body["comments"]
    for bad in ("<script", "onclick", "javascript:"):
        assert bad not in comment["content"]
    assert comment["author"]["name"] == "<img src=x onerror=alert(1)>Mallory"


async def test_likes_and_boosts_are_counted(forum, http):
    node, actors, article = forum
    alice, bob = actors["alice"], actors["bob"]
    liked = await reply(node, http, alice, article)
    await deliver(node, http, bob, {"@context": AS_NS, "id": bob.id + "#likes/1", "type": "Like",
                                    "actor": bob.id, "object": liked["id"]})
    await deliver(node, http, bob, {"@context": AS_NS, "id": bob.id + "#boosts/1", "type": "Announce",
                                    "actor": bob.id, "object": liked["id"],
                                    "to": ["https://www.w3.org/ns/activitystreams#Public"]})
    _, body, _ = await thread_api(http, node, url=article)
    assert (body["comments"][0]["likes"], body["comments"][0]["boosts"]) == (1, 1)


# --- paging -----------------------------------------------------------------------------------


async def test_the_cursor_pages_through_every_direct_reply_once(forum, http):
    """Five replies at limit 2: three pages, each comment once, in the order received, then no cursor."""
    node, actors, article = forum
    sent = [(await reply(node, http, actors["alice"], article, f"<p>n{i}</p>"))["id"] for i in range(5)]
    seen, url, pages = [], None, 0
    status, body, _ = await thread_api(http, node, url=article, limit="2")
    while True:
        assert status == 200 and len(body["comments"]) <= 2
        assert_valid("thread", body)
        seen += [c["id"] for c in body["comments"]]
        pages += 1
        if body["next"] is None:
            assert body["next_cursor"] is None
            break
        # A reply arriving between pages lands after the ones already read, not in a gap.
        status, body, _ = await get_json(http, body["next"])
    assert seen == sent and pages == 3


async def test_a_comment_with_more_replies_than_a_page_holds_links_to_them(forum, http):
    """Past REPLIES_PER_COMMENT, a comment says how many are left and where (?id=<comment>) to read them."""
    node, actors, article = forum
    top = await reply(node, http, actors["alice"], article, "<p>busy</p>")
    under = [(await reply(node, http, actors["bob"], top["id"], f"<p>r{i}</p>"))["id"]
             for i in range(REPLIES_PER_COMMENT + 2)]
    _, body, _ = await thread_api(http, node, url=article)
    [busy] = body["comments"]
    assert [r["id"] for r in busy["replies"]] == under[:REPLIES_PER_COMMENT]
    assert busy["more_replies"] == 2 and busy["replies_url"] is not None
    status, sub, _ = await get_json(http, busy["replies_url"])
    assert status == 200
    assert_valid("thread", sub)
    assert sub["parent"] == top["id"] and sub["comment"]["id"] == top["id"]
    assert [r["id"] for r in sub["comments"]] == under
    assert sub["thread"]["id"] == article


# --- counts -----------------------------------------------------------------------------------


async def test_counts_of_several_pages_in_one_request(node, site, http):
    """Each address as asked maps to its thread's count: any spelling of a discussed page, a local article, 0 for the rest."""
    await publish_topic(node)
    site.page("/story", article_html("A story"))
    opened = await open_discussion(node.node, site.url("/story"))
    async with fake_remote() as remote:
        alice = remote.add_actor("alice")
        await reply(node, http, alice, node.url(f"/discussions/{opened.document.id}"))
        await reply(node, http, alice, node.url(f"/discussions/{opened.document.id}"))
        await reply(node, http, alice, node.url("/articles/topic"))
    asked = [site.url("/story?utm_source=feed"), site.url("/story/"), node.url("/articles/topic"),
             site.url("/unknown")]
    status, body, headers = await get_json(http, node.url("/api/v1/counts"), params=[("url", u) for u in asked])
    assert status == 200, body
    assert_valid("counts", body)
    assert body == {"counts": {asked[0]: 2, asked[1]: 2, asked[2]: 1, asked[3]: 0}}
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert site.hits("/unknown") == 0


@pytest.mark.parametrize("params, reason", [
    ([], "?url="),
    ([("url", f"https://a.example/{i}") for i in range(51)], "at most 50"),
    ([("url", "https://a.example/ok"), ("url", "mailto:x@a.example")], "mailto:x@a.example"),
])
async def test_counts_refuses_bad_requests_with_a_reason(node, http, params, reason):
    status, body, _ = await get_json(http, node.url("/api/v1/counts"), params=params)
    assert status == 400
    assert_valid("error", body)
    assert reason in body["error"]


# --- CORS preflight ---------------------------------------------------------------------------


async def test_a_preflight_for_a_read_is_answered_for_any_origin(node, http):
    headers = {"Origin": "https://blog.example", "Access-Control-Request-Method": "GET",
               "Access-Control-Request-Headers": "content-type"}
    async with http.options(node.url("/api/v1/thread?url=https://a.example/"), headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in response.headers["Access-Control-Allow-Methods"]
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_a_preflight_for_a_write_from_an_origin_not_listed_gets_no_permission(node, http):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    async with http.options(node.url("/api/v1/comments"), headers=headers) as response:
        assert response.status == 204
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_an_unknown_api_path_is_404_json(node, http):
    status, body, headers = await get_json(http, node.url("/api/v1/nothing"))
    assert status == 404 and "error" in body
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_a_members_avatar_is_given_as_this_nodes_image(forum, http):
    """A local member's picture is a URL on this node that serves it; remote authors get none (no third-party requests)."""
    import io

    from PIL import Image

    from node.db import avatars as avatars_db
    from node.members.avatars import make_avatar
    from node.members.posting import post_comment
    from node.services.setup import add_author

    node, actors, article = forum
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(picture, "PNG")
    avatar = make_avatar(picture.getvalue(), max_bytes=1 << 20, max_pixels=1 << 20)
    async with node.node.sessions.begin() as session:
        dana, _ = await add_author(session, node.settings, "dana", "Dana")
        await avatars_db.set_avatar(session, dana.id, data=avatar.data, media_type=avatar.media_type,
                                    digest=avatar.digest, width=avatar.width, height=avatar.height)
    mine = await post_comment(node.node, dana.id, article, "Mine")
    await reply(node, http, actors["alice"], mine.ap_id, "<p>theirs</p>")
    _, body, _ = await thread_api(http, node, url=article)
    assert_valid("thread", body)
    [top] = body["comments"]
    assert top["author"]["avatar"] == node.node.urls.avatar(dana.id, avatar.digest)
    assert top["replies"][0]["author"]["avatar"] is None
    async with http.get(top["author"]["avatar"]) as response:
        assert response.status == 200 and response.content_type == "image/webp"
    _, anchored, _ = await thread_api(http, node, id=mine.ap_id)
    assert anchored["comment"]["author"]["avatar"] == top["author"]["avatar"]
