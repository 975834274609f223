"""Members taking part from the web: comment, reply, edit, delete, like, boost, follow, notifications.

A real node over HTTP; members sign in through the real /login form (tests/members_support.py)
and send the pages' own forms, CSRF token included, as a browser without JavaScript does.
"""

from __future__ import annotations

import re

import pytest

from node.content import Draft
from node.db import queries
from node.db.models import Object
from node.services.publish import publish_article
from tests.fakes.remote import fake_remote
from tests.members_support import login, make_member, member_client, page_token
from tests.threads_support import create, deliver, note


async def publish(node, slug: str = "topic") -> str:
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        await publish_article(session, node.settings, Draft("Topic", slug, "Let us talk."), author)
    return node.url(f"/articles/{slug}")


async def get(http, url: str) -> tuple[int, str]:
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        return response.status, await response.text()


async def post(http, url: str, data: dict) -> tuple[int, str, str]:
    """POST a form without following the redirect: (status, Location, body)."""
    async with http.post(url, data=data, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", ""), await response.text()


async def comments_by(node, username: str) -> list[Object]:
    async with node.node.sessions() as session:
        actor = await queries.get_local_actor(session, username)
        thread = await queries.list_thread(session, (await queries.get_article_by_slug(session, "topic")).id)
    return [c for c in thread if c.actor_id == actor.id]


def block(html: str, comment_id: int) -> str:
    """The markup of one comment (its <li>) on a discussion page."""
    start = html.index(f'id="c-{comment_id}"')
    end = html.find('<li class="comment', start)
    return html[start:end if end > 0 else len(html)]


@pytest.fixture
async def forum(node):
    """An article, and two members signed in: alice and bob (each with their own browser)."""
    article = await publish(node)
    await make_member(node, "alice")
    await make_member(node, "bob")
    async with member_client() as alice, member_client() as bob:
        await login(alice, node.base, "alice")
        await login(bob, node.base, "bob")
        yield node, article, alice, bob


async def comment(node, http, article: str, text: str) -> int:
    """Post ``text`` on the article from its page's form; the new comment's id."""
    token = await page_token(http, node.base, article.removeprefix(node.base))
    root_id = await root_of(node, article)
    status, location, body = await post(http, node.url(f"/threads/{root_id}/comment"), {"csrf": token, "content": text})
    assert status == 303, body
    return int(re.search(r"#c-(\d+)$", location).group(1))


async def root_of(node, article: str) -> int:
    async with node.node.sessions() as session:
        return (await queries.get_object(session, article)).id


# --- commenting and replying ----------------------------------------------------------------------

async def test_a_member_comments_on_an_article_and_lands_on_her_comment(forum, http):
    """Alice's comment from the article's form answers 303 to its permalink on the article's page, where it shows."""
    node, article, alice, bob = forum
    token = await page_token(alice, node.base, "/articles/topic")
    status, location, _ = await post(alice, node.url(f"/threads/{await root_of(node, article)}/comment"),
                                     {"csrf": token, "content": "A *first* thought."})
    [mine] = await comments_by(node, "alice")
    assert status == 303 and location == f"{article}#c-{mine.id}"
    _, html = await get(alice, location)
    assert "<em>first</em>" in block(html, mine.id)


async def test_the_reply_page_shows_the_comment_answered_above_the_box(forum, http):
    """/comments/<id>/reply quotes bob's comment, names him, and has a reply box with the CSRF field."""
    node, article, alice, bob = forum
    bobs = await comment(node, bob, article, "Tabs are better.")
    status, html = await get(alice, node.url(f"/comments/{bobs}/reply"))
    assert status == 200
    quoted, form = html.index("Tabs are better."), html.index('<form class="comment-form reply-box"')
    assert quoted < form and "Your reply to bob" in html and 'name="csrf"' in html[form:]


async def test_a_reply_at_any_depth_nests_under_what_it_answers(forum, http):
    """Replies to replies (four levels) each land on their own permalink, nested one level deeper each time."""
    node, article, alice, bob = forum
    parent = await comment(node, bob, article, "level 0")
    for depth in range(1, 4):
        who = alice if depth % 2 else bob
        token = await page_token(who, node.base, f"/comments/{parent}/reply")
        status, location, _ = await post(who, node.url(f"/comments/{parent}/reply"),
                                         {"csrf": token, "content": f"level {depth}"})
        assert status == 303
        child = int(location.rsplit("#c-", 1)[1])
        async with node.node.sessions() as session:
            assert (await queries.get_object_by_id(session, child)).parent_id == parent
        parent = child
    _, html = await get(alice, article)
    assert f'class="comment depth-3" id="c-{parent}"' in html


async def test_a_member_replies_in_a_thread_from_another_site(forum, http):
    """A thread this node holds from elsewhere (/threads/<n>) takes a member's comment; she lands on it there."""
    node, article, alice, bob = forum
    async with node.node.sessions.begin() as session:
        someone = await queries.upsert_remote_actor(session, {
            "ap_id": "https://elsewhere.example/u/carol", "ap_type": "Person", "username": "carol",
            "domain": "elsewhere.example", "inbox": "https://elsewhere.example/u/carol/inbox"})
        remote = Object(ap_id="https://elsewhere.example/p/1", ap_type="Article", kind="article", is_local=False,
                        actor_id=someone.id, name="Over there", content="<p>A remote article</p>",
                        url="https://elsewhere.example/p/1", visibility="public")
        session.add(remote)
        await session.flush()
        remote_id = remote.id
    token = await page_token(alice, node.base, f"/threads/{remote_id}")
    status, location, body = await post(alice, node.url(f"/threads/{remote_id}/comment"),
                                        {"csrf": token, "content": "Hello from here"})
    assert status == 303, body
    assert location.startswith(node.url(f"/threads/{remote_id}")) and "#c-" in location
    _, html = await get(alice, location)
    assert "Hello from here" in html


async def test_an_empty_comment_comes_back_with_the_reason_and_nothing_stored(forum, http):
    """Posting only blanks shows the form again with a 400 and the service's reason."""
    node, article, alice, bob = forum
    token = await page_token(alice, node.base, "/articles/topic")
    status, _, body = await post(alice, node.url(f"/threads/{await root_of(node, article)}/comment"),
                                 {"csrf": token, "content": "   "})
    assert status == 400 and 'role="alert"' in body and "empty" in body
    assert await comments_by(node, "alice") == []


# --- editing and deleting -------------------------------------------------------------------------

async def test_a_member_edits_her_comment_and_it_says_edited(forum, http):
    """The edit form holds her Markdown; saving shows the new text, marked edited, at its permalink."""
    node, article, alice, bob = forum
    mine = await comment(node, alice, article, "Frist!")
    status, html = await get(alice, node.url(f"/comments/{mine}/edit"))
    assert status == 200 and ">Frist!</textarea>" in html
    token = await page_token(alice, node.base, f"/comments/{mine}/edit")
    status, location, _ = await post(alice, node.url(f"/comments/{mine}/edit"), {"csrf": token, "content": "First!"})
    assert status == 303 and location.endswith(f"#c-{mine}")
    _, html = await get(alice, location)
    assert "First!" in block(html, mine) and 'class="edited"' in block(html, mine)


async def test_a_deleted_comment_leaves_a_placeholder_that_keeps_its_replies(forum, http):
    """Alice deletes her comment after bob answered it: "[deleted]" stands in its place, bob's reply under it."""
    node, article, alice, bob = forum
    mine = await comment(node, alice, article, "Regrettable")
    token = await page_token(bob, node.base, f"/comments/{mine}/reply")
    _, location, _ = await post(bob, node.url(f"/comments/{mine}/reply"), {"csrf": token, "content": "Indeed"})
    bobs = int(location.rsplit("#c-", 1)[1])
    token = await page_token(alice, node.base, f"/comments/{mine}/delete")
    status, _, _ = await post(alice, node.url(f"/comments/{mine}/delete"), {"csrf": token})
    assert status == 303
    _, html = await get(http, article)
    assert "[deleted]" in block(html, mine) and "Regrettable" not in html
    assert "Indeed" in block(html, bobs)


async def test_someone_elses_comment_cannot_be_edited_or_deleted(forum, http):
    """Bob asking for alice's comment's edit or delete form, or posting them, gets 403; the comment is unchanged."""
    node, article, alice, bob = forum
    mine = await comment(node, alice, article, "Mine alone")
    token = await page_token(bob, node.base, "/articles/topic")
    for path in (f"/comments/{mine}/edit", f"/comments/{mine}/delete"):
        status, _ = await get(bob, node.url(path))
        assert status == 403, path
        status, _, page = await post(bob, node.url(path), {"csrf": token, "content": "Hijacked"})
        assert status == 403 and "only change your own comments" in page and "<!doctype html>" in page, path
    async with node.node.sessions() as session:
        kept = await queries.get_object_by_id(session, mine)
    assert kept.source == "Mine alone" and kept.deleted_at is None


async def test_a_form_without_the_csrf_token_is_refused(forum, http):
    """A signed-in member's browser posting a comment without the token (a forged cross-site form) gets 403."""
    node, article, alice, bob = forum
    status, _, _ = await post(alice, node.url(f"/threads/{await root_of(node, article)}/comment"),
                              {"content": "forged"})
    assert status == 403
    status, _, _ = await post(alice, node.url(f"/threads/{await root_of(node, article)}/comment"),
                              {"content": "forged", "csrf": "o.1.wrong"})
    assert status == 403
    assert await comments_by(node, "alice") == []


async def test_a_reader_who_is_not_signed_in_is_sent_to_sign_in(forum, http):
    """A reader's comment is not taken (303 to sign in, nothing stored); the reply page sends them to sign in and back."""
    node, article, alice, bob = forum
    bobs = await comment(node, bob, article, "Anyone?")
    status, location, _ = await post(http, node.url(f"/threads/{await root_of(node, article)}/comment"),
                                     {"content": "anonymous"})
    assert status == 303 and location.startswith("/login")
    async with http.get(node.url(f"/comments/{bobs}/reply"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == f"/login?next=/comments/{bobs}/reply"
    assert [c.source for c in await comments_by(node, "bob")] == ["Anyone?"]


# --- likes, boosts and what a member sees of her own ---------------------------------------------

async def test_a_member_likes_a_comment_and_sees_it_liked(forum, http):
    """Alice likes bob's comment: back at its permalink, it counts 1 like and her button says "liked" (pressed)."""
    node, article, alice, bob = forum
    bobs = await comment(node, bob, article, "Likeable")
    token = await page_token(alice, node.base, "/articles/topic")
    status, location, _ = await post(alice, node.url(f"/comments/{bobs}/like"), {"csrf": token})
    assert status == 303 and location.endswith(f"#c-{bobs}")
    _, html = await get(alice, location)
    mine = block(html, bobs)
    assert '<span class="likes">1 like</span>' in mine
    assert f'action="/comments/{bobs}/unlike"' in mine and 'aria-pressed="true"' in mine
    status, _, _ = await post(alice, node.url(f"/comments/{bobs}/unlike"), {"csrf": token})
    _, html = await get(alice, article)
    assert f'action="/comments/{bobs}/like"' in block(html, bobs) and "1 like" not in block(html, bobs)


async def test_a_member_boosts_a_comment(forum, http):
    """Alice boosts bob's comment: it counts 1 boost and her button says "boosted"."""
    node, article, alice, bob = forum
    bobs = await comment(node, bob, article, "Boostable")
    token = await page_token(alice, node.base, "/articles/topic")
    status, _, _ = await post(alice, node.url(f"/comments/{bobs}/boost"), {"csrf": token})
    assert status == 303
    _, html = await get(alice, article)
    assert '<span class="boosts">1 boost</span>' in block(html, bobs)
    assert f'action="/comments/{bobs}/unboost"' in block(html, bobs)


async def test_only_her_own_comments_offer_edit_and_delete(forum, http):
    """On the same page alice sees edit/delete under her comment and like/boost under bob's; readers see neither."""
    node, article, alice, bob = forum
    mine = await comment(node, alice, article, "Mine")
    bobs = await comment(node, bob, article, "His")
    _, html = await get(alice, article)
    assert f'href="/comments/{mine}/edit"' in block(html, mine) and f"/comments/{mine}/like" not in html
    assert f'action="/comments/{bobs}/like"' in block(html, bobs) and f"/comments/{bobs}/edit" not in html
    _, anonymous = await get(http, article)
    assert "/edit" not in anonymous and "/like" not in anonymous and "<!--m" not in anonymous
    assert 'name="csrf"' not in anonymous.split('id="discussion"', 1)[1]


async def test_the_author_of_the_article_wears_a_badge(node, http):
    """A comment by the article's own author is marked "author"; others are not."""
    article = await publish(node)
    async with fake_remote() as remote:
        carol = remote.add_actor("carol")
        reply = note(carol, article, "<p>Nice</p>")
        await deliver(node, http, carol, create(carol, reply))
    async with node.node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, "editor")
        root = await queries.get_object(session, article)
        own = Object(ap_id=node.url("/comments/by-editor"), ap_type="Note", kind="comment", is_local=True,
                     actor_id=editor.id, content="<p>Thanks</p>", in_reply_to=article, parent_id=root.id,
                     root_id=root.id, visibility="public")
        session.add(own)
        await session.flush()
        own_id, carols = own.id, (await queries.get_object(session, reply["id"])).id
    _, html = await get(http, article)
    assert '<span class="author-badge"' in block(html, own_id) and ">author</span>" in block(html, own_id)
    assert "author-badge" not in block(html, carols)


# --- following and notifications -----------------------------------------------------------------

async def test_a_reply_shows_in_the_members_notifications_until_read(forum, http):
    """Bob answers alice: her notifications page lists it unread, linking to its permalink; "mark all read" clears it."""
    node, article, alice, bob = forum
    mine = await comment(node, alice, article, "Question?")
    token = await page_token(bob, node.base, f"/comments/{mine}/reply")
    _, location, _ = await post(bob, node.url(f"/comments/{mine}/reply"), {"csrf": token, "content": "Answer."})
    bobs = int(location.rsplit("#c-", 1)[1])
    status, html = await get(alice, node.url("/notifications"))
    assert status == 200
    assert 'class="notification kind-reply unread"' in html and "replied to you" in html and "Answer." in html
    assert f'href="/c/{bobs}"' in html
    async with alice.get(node.url(f"/c/{bobs}"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].endswith(f"#c-{bobs}")
    token = await page_token(alice, node.base, "/notifications")
    newest = re.search(r'name="up_to" value="(\d+)"', html).group(1)
    status, location, _ = await post(alice, node.url("/notifications/read"), {"csrf": token, "up_to": newest})
    assert status == 303
    _, html = await get(alice, node.url("/notifications"))
    assert "unread" not in re.findall(r'class="notification [^"]*"', html)[0]


async def test_following_a_thread_brings_its_new_comments_to_notifications(forum, http):
    """Alice follows the discussion from its page; bob's later comment notifies her; unfollowing stops it."""
    node, article, alice, bob = forum
    root_id = await root_of(node, article)
    token = await page_token(alice, node.base, "/articles/topic")
    status, location, _ = await post(alice, node.url(f"/threads/{root_id}/follow"), {"csrf": token})
    assert status == 303 and location == f"{article}#discussion"
    _, html = await get(alice, article)
    assert "Following this discussion" in html
    await comment(node, bob, article, "News!")
    _, html = await get(alice, node.url("/notifications"))
    assert "commented in a discussion you follow" in html and "News!" in html
    await post(alice, node.url(f"/threads/{root_id}/unfollow"), {"csrf": token})
    await comment(node, bob, article, "More news")
    _, html = await get(alice, node.url("/notifications"))
    assert "More news" not in html


async def test_notifications_need_a_signed_in_member(node, http):
    """A reader opening /notifications is sent to sign in."""
    async with http.get(node.url("/notifications"), allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].startswith("/login?next=/notifications")


async def test_a_held_comment_says_it_waits_and_its_approval_is_a_notification(tmp_path, http):
    """Under the shipped policy a new member's first comment is held: the page says so; approval notifies her."""
    from node.moderation import actions
    from tests.support import POLICY_DEFAULTS, make_settings, running_node

    async with running_node(make_settings(tmp_path, **POLICY_DEFAULTS)) as node:
        article = await publish(node)
        await make_member(node, "alice")
        async with member_client() as alice:
            await login(alice, node.base, "alice")
            token = await page_token(alice, node.base, "/articles/topic")
            status, location, _ = await post(alice, node.url(f"/threads/{await root_of(node, article)}/comment"),
                                             {"csrf": token, "content": "Hello, first time here."})
            assert status == 303 and location == f"{article}?held=1#discussion"
            _, html = await get(alice, location)
            assert "waits for a moderator" in html and "Hello, first time here." not in html
            [held] = await comments_by(node, "alice")
            async with node.node.sessions.begin() as session:
                await actions.approve(node.node, session, await actions.find_comment(session, held.ap_id),
                                      moderator="mia")
            _, html = await get(alice, node.url("/notifications"))
        assert "A moderator approved your comment" in html and "Hello, first time here." in html
