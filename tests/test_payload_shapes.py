"""Replies as each server software really sends them are taken into the right thread.

Every test sends, over real HTTP and signed, an activity built by ``tests/payloads.py``
in the shape that software emits (the source of each shape is in the builder's
docstring), then checks what a reader sees: the comment is stored under the right
parent in the article's thread, with sanitised HTML and the right visibility, and it
is on the article page and in the ``replies`` collection only when it is public.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from node.db.models import Activity, Object
from node.federation.vocab import ACTIVITY_JSON, PUBLIC
from node.services import following
from tests import payloads
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.threads_support import comment as stored, publish_topic

# Appended to the HTML of replies: none of it may reach the database or a page.
HOSTILE = '<img src="x" onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a>'
FORBIDDEN = ("<script", "onerror", "<img", "alert(", "javascript:", "style=")


@pytest.fixture
async def world(node, http):
    """A node with the article /articles/topic (by editor, in the forum Group) and a fake remote server."""
    await publish_topic(node)
    async with http.get(node.url("/articles/topic"), headers={"Accept": ACTIVITY_JSON}) as response:
        article = await response.json(content_type=None)
    async with fake_remote() as remote:
        yield World(node, remote, article)


class World:
    """What the tests need: the node, the fake remote, our article document and our actors."""

    def __init__(self, node, remote, article: dict) -> None:
        self.node, self.remote, self.article = node, remote, article
        self.article_id = article["id"]
        self.editor = node.url("/actors/editor")
        self.editor_followers = node.url("/actors/editor/followers")
        self.forum = node.url("/actors/forum")
        self.editor_handle = f"@editor@{node.url('').split('//', 1)[1]}"


async def deliver(world: World, http, actor, activity: dict) -> str:
    """POST the signed activity to the shared inbox, wait until applied, return the recorded outcome."""
    status, body = await signed_post(http, world.node.url("/inbox"), activity, actor)
    assert status == 202, body
    await world.node.node.processor.drain()
    async with world.node.node.sessions() as session:
        row = await session.scalar(select(Activity).where(Activity.ap_id == activity["id"]))
    return row.status if row.error is None else f"{row.status}: {row.error}"


async def page(world: World, http) -> str:
    async with http.get(world.article_id, headers={"Accept": "text/html"}) as response:
        assert response.status == 200
        return await response.text()


async def replies_of_article(world: World, http) -> list[str]:
    async with http.get(world.article_id + "/replies?page=1", headers={"Accept": ACTIVITY_JSON}) as response:
        return (await response.json(content_type=None))["orderedItems"]


async def assert_comment(world: World, http, note_id: str, *, parent: str, visibility: str, text: str) -> Object:
    """The reply is stored in the article's thread under ``parent``, sanitised, and shown only if public."""
    comment = await stored(world.node, note_id)
    assert comment is not None, "the reply was not stored"
    root = await stored(world.node, world.article_id)
    assert (comment.kind, comment.is_local, comment.in_reply_to, comment.root_id) == ("comment", False, parent, root.id)
    assert comment.parent_id == (await stored(world.node, parent)).id
    assert comment.visibility == visibility
    assert text in comment.content
    for bad in FORBIDDEN:
        assert bad not in comment.content, bad
    shown = visibility in ("public", "unlisted")
    assert (text in await page(world, http)) is shown
    if parent == world.article_id:
        assert (note_id in await replies_of_article(world, http)) is shown
    return comment


# --- Misskey ----------------------------------------------------------------------------------


def misskey_user(world: World, key_index: int = 1):
    return payloads.serve_actor(world.remote, "/users/9gq1x0abcd", "mika", key_index=key_index,
                                context=payloads.MISSKEY_CONTEXT)


async def test_misskey_reply_with_misskey_content_joins_thread(world, http):
    """Misskey's HTML ``content`` is stored (not the MFM of ``_misskey_content``), mention and hashtag kept."""
    mika = misskey_user(world)
    html = (f'<p><a href="{world.editor}" class="u-url mention">{world.editor_handle}</a><span> Misskey says hi '
            f'</span><a href="{world.remote.base}/tags/fedi" rel="tag">#fedi</a></p>' + HOSTILE)
    activity = payloads.misskey_reply(
        mika, world.article_id, html, f"{world.editor_handle} **Misskey says hi** #fedi",
        tags=[payloads.mention(world.editor, world.editor_handle), payloads.hashtag(world.remote.base, "fedi")])
    assert await deliver(world, http, mika, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Misskey says hi")
    assert "**" not in comment.content and 'class="u-url mention"' in comment.content


async def test_misskey_reply_that_also_quotes_a_note_joins_thread(world, http):
    """``_misskey_quote``/``quoteUrl`` on a reply do not stop it joining the thread of its ``inReplyTo``."""
    mika = misskey_user(world)
    quoted = f"{world.remote.base}/notes/9quotedxyz"
    activity = payloads.misskey_reply(mika, world.article_id, f"<p>Quoting while replying<br><br>RE: {quoted}</p>",
                                      f"Quoting while replying\n\nRE: {quoted}", quote=quoted)
    assert await deliver(world, http, mika, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="Quoting while replying")


async def test_misskey_quote_without_reply_is_not_a_comment(world, http):
    """A Misskey quote of our article (``_misskey_quote`` but no ``inReplyTo``) is a post of its own, not a reply."""
    mika = misskey_user(world)
    activity = payloads.misskey_reply(mika, None, f"<p>Look at this<br><br>RE: {world.article_id}</p>",
                                      f"Look at this\n\nRE: {world.article_id}", quote=world.article_id)
    activity["object"].pop("inReplyTo")
    assert (await deliver(world, http, mika, activity)).startswith("ignored")
    assert await stored(world.node, activity["object"]["id"]) is None
    assert "Look at this" not in await page(world, http)


async def test_misskey_sensitive_reply_with_a_cw_joins_thread(world, http):
    """A Misskey reply with a content warning (``summary``, ``sensitive: true``) is still a comment of the thread."""
    mika = misskey_user(world)
    activity = payloads.misskey_reply(mika, world.article_id, "<p>Spoiler inside</p>", "Spoiler inside",
                                      cw="plot details")
    assert await deliver(world, http, mika, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Spoiler inside")
    assert comment.raw["sensitive"] is True and comment.raw["summary"] == "plot details"


async def test_a_content_warning_hides_the_text_behind_it_on_the_page(world, http):
    """The ``summary`` of a reply is shown as the warning, and its text only inside a closed <details>."""
    mika = misskey_user(world)
    activity = payloads.misskey_reply(mika, world.article_id, "<p>The butler did it</p>", "The butler did it",
                                      cw="<b>ending</b> spoilers")
    assert await deliver(world, http, mika, activity) == "applied"
    html = await page(world, http)
    warning = html.index('<details class="content-warning"><summary>&lt;b&gt;ending&lt;/b&gt; spoilers</summary>')
    assert warning < html.index("The butler did it") < html.index("</details>", warning)


@pytest.mark.parametrize(("misskey_visibility", "expected"), [
    ("home", "unlisted"), ("followers", "followers"), ("specified", "direct"),
])
async def test_misskey_visibility_maps_to_ours(world, http, misskey_visibility, expected):
    """Misskey's home (to followers, cc Public), followers and specified (mentioned only) replies."""
    mika = misskey_user(world)
    text = f"Misskey {misskey_visibility} words"
    activity = payloads.misskey_reply(mika, world.article_id, f"<p>{text}</p>", text,
                                      visibility=misskey_visibility, to_extra=[world.editor])
    assert await deliver(world, http, mika, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility=expected, text=text)


@pytest.mark.parametrize("reaction", ["👍", ":blobcat:"], ids=["unicode-emoji", "custom-emoji"])
async def test_misskey_reaction_counts_as_a_like(world, http, reaction):
    """Misskey's ``Like`` with ``_misskey_reaction`` and ``content`` counts once as a like of the article."""
    mika = misskey_user(world)
    emoji = None
    if reaction.startswith(":"):
        emoji = {"id": f"{world.remote.base}/emojis/blobcat", "type": "Emoji", "name": reaction,
                 "updated": "2026-01-01T00:00:00.000Z",
                 "icon": {"type": "Image", "mediaType": "image/png", "url": f"{world.remote.base}/files/blobcat.png"}}
    assert await deliver(world, http, mika, payloads.misskey_like(mika, world.article_id, reaction, emoji)) == "applied"
    assert await deliver(world, http, mika, payloads.misskey_like(mika, world.article_id, "🎉")) != "applied"
    assert (await stored(world.node, world.article_id)).likes_count == 1


# --- Pleroma / Akkoma -------------------------------------------------------------------------


def pleroma_user(world: World):
    return payloads.serve_actor(world.remote, "/users/lain", "lain", key_index=2)


async def test_pleroma_reply_with_context_and_conversation_joins_thread(world, http):
    """Pleroma's reply (``context``/``conversation`` of its own, ``actor`` on the object) joins our thread."""
    lain = pleroma_user(world)
    html = (f'<span class="h-card"><a class="u-url mention" data-user="AS4V0TbTpJvpUJz5bk" href="{world.editor}" '
            f'rel="ugc">@<span>editor</span></a></span> Pleroma agrees' + HOSTILE)
    activity = payloads.pleroma_reply(
        lain, world.article_id, html, f"{world.editor_handle} Pleroma agrees", to=[PUBLIC, world.editor],
        cc=[lain.document["followers"]], tags=[payloads.mention(world.editor, world.editor_handle)])
    assert await deliver(world, http, lain, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Pleroma agrees")
    assert "data-user" not in comment.content and 'rel="nofollow noopener noreferrer"' in comment.content
    assert comment.context == world.article["context"]  # our thread's context, not Pleroma's


async def test_pleroma_followers_only_reply_to_its_followers_collection_is_private(world, http):
    """Pleroma's followers-only reply (``to`` the followers collection and the mentioned, ``cc`` empty)."""
    lain = pleroma_user(world)
    activity = payloads.pleroma_reply(lain, world.article_id, "<p>Only my followers read this</p>",
                                      "Only my followers read this", to=[lain.document["followers"], world.editor],
                                      cc=[])
    assert await deliver(world, http, lain, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="followers",
                         text="Only my followers read this")


async def test_akkoma_direct_message_reply_is_direct_and_hidden(world, http):
    """Akkoma's DM reply (``directMessage: true``, ``to`` the mentioned only) is stored as direct, never shown."""
    lain = pleroma_user(world)
    activity = payloads.pleroma_reply(lain, world.article_id, "<p>Psst, editor</p>", "Psst, editor",
                                      to=[world.editor], cc=[], direct=True,
                                      tags=[payloads.mention(world.editor, world.editor_handle)])
    assert await deliver(world, http, lain, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="direct",
                         text="Psst, editor")


async def test_pleroma_emoji_react_counts_as_a_like_and_undo_takes_it_back(world, http):
    """Pleroma/Akkoma ``EmojiReact`` counts as the actor's like; its ``Undo`` uncounts it."""
    lain = pleroma_user(world)
    react = payloads.pleroma_emoji_react(lain, world.article_id, "🦈", target_author=world.editor)
    assert await deliver(world, http, lain, react) == "applied"
    assert (await stored(world.node, world.article_id)).likes_count == 1
    assert await deliver(world, http, lain, payloads.pleroma_undo(lain, react)) == "applied"
    assert (await stored(world.node, world.article_id)).likes_count == 0


# --- GoToSocial -------------------------------------------------------------------------------


def gotosocial_user(world: World):
    """A GoToSocial account: key id ``/users/<name>/main-key``, which answers with a stub of the actor."""
    actor_id = f"{world.remote.base}/users/gts_user"
    return payloads.serve_actor(world.remote, "/users/gts_user", "gts_user", key_index=3,
                                key_id=f"{actor_id}/main-key", stub_key=True)


async def test_gotosocial_reply_with_string_addressing_and_interaction_policy_joins_thread(world, http):
    """GoToSocial's reply (signed with its stub key doc, ``to``/``cc`` strings, ``tag`` an object,
    ``interactionPolicy``) joins the thread as public."""
    gts = gotosocial_user(world)
    html = f'<p><span class="h-card"><a href="{world.editor}" class="u-url mention">@editor</a></span> GtS here</p>'
    activity = payloads.gotosocial_reply(gts, world.article_id, html + HOSTILE,
                                         mentioned=(world.editor, world.editor_handle))
    assert isinstance(activity["object"]["to"], str) and isinstance(activity["object"]["tag"], dict)
    assert await deliver(world, http, gts, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="GtS here")


@pytest.mark.parametrize("authorization", ["approvedBy", "replyAuthorization"])
async def test_gotosocial_reply_approved_by_the_parent_author_joins_under_that_comment(world, http, authorization):
    """A GoToSocial reply to a Mastodon comment, carrying the parent author's approval URI, nests under it."""
    alice = world.remote.add_actor("alice", key_index=0)
    parent = reply_to(world.article_id, alice)
    assert await deliver(world, http, alice, parent) == "applied"
    parent_id = parent["object"]["id"]
    gts = gotosocial_user(world)
    approval = f"{alice.id}/reply_approvals/01JMMGABRDNA9G9BDNYJR7TC8D"
    activity = payloads.gotosocial_reply(gts, parent_id, "<p>Approved answer</p>", mentioned=(alice.id, "@alice"),
                                         **{"approved_by" if authorization == "approvedBy" else "reply_authorization": approval})
    assert activity["object"][authorization] == approval
    assert await deliver(world, http, gts, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=parent_id, visibility="public",
                         text="Approved answer")


# --- Lemmy ------------------------------------------------------------------------------------


def lemmy_user(world: World, name: str = "picard", key_index: int = 4):
    """A Lemmy account: ``/u/<name>``, no followers collection."""
    return payloads.serve_actor(world.remote, f"/u/{name}", name, key_index=key_index, followers=None,
                                context=payloads.LEMMY_CONTEXT)


async def test_lemmy_comment_with_audience_joins_thread(world, http):
    """Lemmy's comment (``to`` our Group and Public, ``audience`` our Group, Markdown ``source``) joins the thread."""
    picard = lemmy_user(world)
    activity = payloads.lemmy_comment(picard, world.article_id, "<p>Lemmy <strong>engages</strong></p>\n" + HOSTILE,
                                      "Lemmy **engages**", community=world.forum,
                                      mentioned=(world.editor, world.editor_handle))
    assert await deliver(world, http, picard, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="<strong>engages</strong>")
    assert comment.published == datetime(2026, 11, 24, 10, 25, 43, 966208, tzinfo=timezone.utc)


async def test_lemmy_reply_to_a_lemmy_comment_nests_under_it(world, http):
    """A Lemmy comment answering another Lemmy comment is stored under that comment."""
    picard, riker = lemmy_user(world), lemmy_user(world, "riker", key_index=5)
    first = payloads.lemmy_comment(picard, world.article_id, "<p>Top level</p>\n", "Top level", community=world.forum)
    assert await deliver(world, http, picard, first) == "applied"
    second = payloads.lemmy_comment(riker, first["object"]["id"], "<p>Nested answer</p>\n", "Nested answer",
                                    community=world.forum, mentioned=(picard.id, "@picard@lemmy"))
    assert await deliver(world, http, riker, second) == "applied"
    await assert_comment(world, http, second["object"]["id"], parent=first["object"]["id"], visibility="public",
                         text="Nested answer")


async def test_lemmy_upvote_counts_as_a_like(world, http):
    """Lemmy's upvote is a ``Like`` with ``audience``: counted once on the article."""
    picard = lemmy_user(world)
    assert await deliver(world, http, picard,
                         payloads.lemmy_vote(picard, world.article_id, "Like", community=world.forum)) == "applied"
    assert (await stored(world.node, world.article_id)).likes_count == 1


async def test_lemmy_downvote_is_accepted_and_not_counted_as_a_like(world, http):
    """Lemmy's downvote (``Dislike``) is answered 202 and changes no like or boost count."""
    picard = lemmy_user(world)
    outcome = await deliver(world, http, picard,
                            payloads.lemmy_vote(picard, world.article_id, "Dislike", community=world.forum))
    assert outcome.startswith("ignored")
    article = await stored(world.node, world.article_id)
    assert (article.likes_count, article.announces_count) == (0, 0)


async def lemmy_community_we_follow(world: World, http):
    """A Lemmy community ``/c/main`` (a Group with followers) that our site follows, accepted."""
    community = payloads.serve_actor(world.remote, "/c/main", "main", kind="Group", key_index=6,
                                     context=payloads.LEMMY_CONTEXT)
    row = await following.follow(world.node.node, community.id)
    accept = {"@context": payloads.LEMMY_CONTEXT, "actor": community.id, "to": [world.forum],
              "object": {"actor": world.forum, "to": [community.id], "object": community.id, "type": "Follow",
                         "id": row.ap_id},
              "type": "Accept", "id": f"{world.remote.base}/activities/accept/1"}
    assert await deliver(world, http, community, accept) == "applied"
    return community


async def test_lemmy_community_announce_of_a_new_post_stores_it_as_a_remote_article(world, http):
    """FEP-1b12: a followed Lemmy community's ``Announce`` of a member's ``Create(Page)`` stores the post."""
    community = await lemmy_community_we_follow(world, http)
    picard = lemmy_user(world)
    create = payloads.lemmy_post(picard, community.id, "Warp theory", "<p>Discuss warp.</p>")
    page_doc = {"@context": payloads.LEMMY_CONTEXT, **create["object"]}
    world.remote.serve(page_doc["id"].removeprefix(world.remote.base), page_doc)
    assert await deliver(world, http, community, payloads.lemmy_announce(community, create)) == "applied"
    post = await stored(world.node, page_doc["id"])
    assert post is not None
    assert (post.kind, post.is_local, post.name, post.ap_type, post.actor.ap_id) == (
        "article", False, "Warp theory", "Page", picard.id)


async def test_lemmy_community_announce_of_a_comment_brings_it_into_the_thread(world, http):
    """A followed community's ``Announce(Create(Note))`` of a comment on its post we hold adds the comment."""
    community = await lemmy_community_we_follow(world, http)
    picard, riker = lemmy_user(world), lemmy_user(world, "riker", key_index=5)
    create = payloads.lemmy_post(picard, community.id, "Warp theory", "<p>Discuss warp.</p>")
    world.remote.serve(create["object"]["id"].removeprefix(world.remote.base),
                       {"@context": payloads.LEMMY_CONTEXT, **create["object"]})
    assert await deliver(world, http, community, payloads.lemmy_announce(community, create)) == "applied"
    comment = payloads.lemmy_comment(riker, create["object"]["id"], "<p>Warp 9 at least</p>\n", "Warp 9 at least",
                                     community=community.id)
    world.remote.serve(comment["object"]["id"].removeprefix(world.remote.base),
                       {"@context": payloads.LEMMY_CONTEXT, **comment["object"]})
    assert await deliver(world, http, community, payloads.lemmy_announce(community, comment)) == "applied"
    stored_comment = await stored(world.node, comment["object"]["id"])
    post = await stored(world.node, create["object"]["id"])
    assert stored_comment is not None
    assert (stored_comment.parent_id, stored_comment.root_id, stored_comment.visibility) == (post.id, post.id, "public")
    assert "Warp 9 at least" in stored_comment.content


async def lemmy_thread_with_a_comment(world: World, http):
    """A followed community's post and Riker's comment on it, both brought in by the community's Announces."""
    community = await lemmy_community_we_follow(world, http)
    picard, riker = lemmy_user(world), lemmy_user(world, "riker", key_index=5)
    post = payloads.lemmy_post(picard, community.id, "Warp theory", "<p>Discuss warp.</p>")
    world.remote.serve(post["object"]["id"].removeprefix(world.remote.base),
                       {"@context": payloads.LEMMY_CONTEXT, **post["object"]})
    assert await deliver(world, http, community, payloads.lemmy_announce(community, post)) == "applied"
    comment = payloads.lemmy_comment(riker, post["object"]["id"], "<p>Warp 9 at least</p>\n", "Warp 9 at least",
                                     community=community.id)
    path = comment["object"]["id"].removeprefix(world.remote.base)
    world.remote.serve(path, {"@context": payloads.LEMMY_CONTEXT, **comment["object"]})
    assert await deliver(world, http, community, payloads.lemmy_announce(community, comment)) == "applied"
    return community, riker, comment, path


async def test_lemmy_community_announce_of_an_edit_updates_our_copy_from_the_origin(world, http):
    """FEP-1b12: a followed community's ``Announce(Update)`` of a comment we hold is applied, as its own server
    now serves it (the community may not speak for the comment's author)."""
    community, riker, comment, path = await lemmy_thread_with_a_comment(world, http)
    update = payloads.lemmy_update(riker, comment, "<p>Warp 9.975 at least</p>\n", "2026-11-24T11:00:00Z")
    world.remote.serve(path, {"@context": payloads.LEMMY_CONTEXT, **update["object"]})
    assert await deliver(world, http, community, payloads.lemmy_announce(community, update)) == "applied"
    assert "Warp 9.975 at least" in (await stored(world.node, comment["object"]["id"])).content


async def test_announced_edit_is_not_believed_over_the_origin(world, http):
    """The community's Announce carries a forged text; the origin still serves the old one: nothing changes."""
    community, riker, comment, path = await lemmy_thread_with_a_comment(world, http)
    forged = payloads.lemmy_update(riker, comment, "<p>forged by the community</p>", "2026-11-24T11:00:00Z")
    assert (await deliver(world, http, community, payloads.lemmy_announce(community, forged))).startswith("ignored")
    assert "Warp 9 at least" in (await stored(world.node, comment["object"]["id"])).content


async def test_lemmy_community_announce_of_a_delete_blanks_our_copy_once_the_origin_says_gone(world, http):
    """FEP-1b12: ``Announce(Delete)`` of a comment we hold leaves the placeholder once its server answers 404."""
    community, riker, comment, path = await lemmy_thread_with_a_comment(world, http)
    delete = payloads.lemmy_delete(riker, comment["object"]["id"], community=community.id)
    still_there = await deliver(world, http, community, payloads.lemmy_announce(community, delete))
    assert still_there.endswith("the post is still there at its origin")
    world.remote.serve(path, {"error": "not found"}, status=404)
    delete = payloads.lemmy_delete(riker, comment["object"]["id"], community=community.id)
    assert await deliver(world, http, community, payloads.lemmy_announce(community, delete)) == "applied"
    held = await stored(world.node, comment["object"]["id"])
    assert held.deleted_at is not None and held.content is None


# --- Mbin -------------------------------------------------------------------------------------


async def test_mbin_comment_with_magazine_audience_and_content_map_joins_thread(world, http):
    """Mbin's comment (``audience`` and ``cc`` the magazine = our Group, ``contentMap``, DATE_ATOM time) joins."""
    mbin = payloads.serve_actor(world.remote, "/u/ernest", "ernest", key_index=7)
    html = (f'<p>Mbin chimes in <a href="{world.remote.base}/tag/forums" class="hashtag">#forums</a></p>' + HOSTILE)
    activity = payloads.mbin_comment(mbin, world.article_id, html, "Mbin chimes in #forums", magazine=world.forum,
                                     parent_author=world.editor, tags=[payloads.hashtag(world.remote.base, "forums")])
    assert await deliver(world, http, mbin, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Mbin chimes in")
    assert 'class="hashtag"' in comment.content
    assert comment.published == datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)  # 11:30+01:00


# --- Friendica --------------------------------------------------------------------------------


def friendica_user(world: World):
    """A Friendica account: ``/profile/<nick>``, followers at ``/followers/<nick>``."""
    return payloads.serve_actor(world.remote, "/profile/jakob", "jakob", key_index=8,
                                followers=f"{world.remote.base}/followers/jakob")


async def test_friendica_reply_with_content_map_only_joins_thread(world, http):
    """Friendica's reply with its HTML only in ``contentMap`` (plus ``diaspora:guid``, LD ``signature``) joins."""
    jakob = friendica_user(world)
    html = (f'<bdi>@<a href="{world.editor}" class="userinfo mention" title="editor">editor</a></bdi> '
            f'Friendica greets you' + HOSTILE)
    activity = payloads.friendica_reply(jakob, world.article_id, html, "@[url=x]editor[/url] Friendica greets you",
                                        to=[world.editor, PUBLIC, world.forum], cc=[jakob.document["followers"]])
    assert "content" not in activity["object"] and "signature" in activity
    assert await deliver(world, http, jakob, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Friendica greets you")
    assert "<bdi" not in comment.content and 'class="mention"' in comment.content


async def test_friendica_followers_only_reply_to_its_followers_collection_is_private(world, http):
    """Friendica's followers collection is ``/followers/<nick>``: a reply to it alone is followers-only."""
    jakob = friendica_user(world)
    activity = payloads.friendica_reply(jakob, world.article_id, "<p>Friends only</p>", "Friends only",
                                        to=[jakob.document["followers"]], cc=[world.editor])
    assert await deliver(world, http, jakob, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="followers",
                         text="Friends only")


# --- NodeBB -----------------------------------------------------------------------------------


async def test_nodebb_reply_with_context_audience_and_name_joins_thread(world, http):
    """NodeBB's reply (``context`` our thread, ``audience`` our Group, ``name`` "Re: Topic", ``#key``) joins."""
    base = world.remote.base
    nodebb = payloads.serve_actor(world.remote, "/uid/7", "julian", key_index=9, key_id=f"{base}/uid/7#key")
    activity = payloads.nodebb_reply(
        nodebb, world.article_id, '<p dir="auto">NodeBB forum reply</p>\n' + HOSTILE, "NodeBB forum reply",
        parent_author=world.editor, parent_followers=world.editor_followers, context=world.article["context"],
        audience=world.forum, topic_title="Topic")
    assert await deliver(world, http, nodebb, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="NodeBB forum reply")
    assert "dir=" not in comment.content
    assert comment.name is None  # "Re: Topic" is NodeBB's reply title, not a heading of ours


# --- forms every server may use ---------------------------------------------------------------


def mastodon_reply(world: World, actor, text: str, **object_changes) -> dict:
    activity = reply_to(world.article_id, actor)
    activity["object"].update(content=f"<p>{text}</p>", **object_changes)
    activity.update({k: v for k, v in object_changes.items() if k in ("to", "cc")})
    return activity


@pytest.mark.parametrize("to", [
    [PUBLIC], PUBLIC, ["as:Public"], "as:Public", ["Public"], "Public", [{"id": PUBLIC, "type": "Collection"}],
], ids=["iri-list", "iri-string", "as-Public-list", "as-Public-string", "Public-list", "Public-string", "object"])
async def test_every_spelling_of_public_in_to_makes_a_reply_public(world, http, to):
    """Public as the full IRI, ``as:Public`` or ``Public``, in a list or as a plain string."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Spelled public", to=to)
    assert await deliver(world, http, alice, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="Spelled public")


@pytest.mark.parametrize("public", [PUBLIC, "as:Public", "Public"])
async def test_every_spelling_of_public_in_cc_makes_a_reply_unlisted(world, http, public):
    """Public only in ``cc`` (Mastodon's "quiet public") in any spelling is unlisted: shown, but not public."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Quietly public", to=alice.document["followers"], cc=public)
    assert await deliver(world, http, alice, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="unlisted",
                         text="Quietly public")


async def test_ld_signature_and_fep_8b32_proof_members_are_ignored(world, http):
    """An activity carrying an LD ``signature`` and a FEP-8b32 ``proof`` (on it and on its object) is taken in."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Signed twice over")
    activity["signature"] = payloads.ld_signature(alice)
    activity["proof"] = payloads.data_integrity_proof(alice)
    activity["object"]["proof"] = payloads.data_integrity_proof(alice)
    assert await deliver(world, http, alice, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="Signed twice over")


async def test_mentions_and_hashtags_in_tag_keep_their_links(world, http):
    """Mention and Hashtag entries in ``tag``; the content's mention and hashtag links keep their classes."""
    alice = world.remote.add_actor("alice", key_index=0)
    html = (f'<p><span class="h-card" translate="no"><a href="{world.editor}" class="u-url mention">@<span>editor'
            f'</span></a></span> tagged <a href="{world.remote.base}/tags/forums" class="mention hashtag" '
            f'rel="tag">#<span>forums</span></a></p>')
    activity = reply_to(world.article_id, alice)
    activity["object"].update(content=html, tag=[payloads.mention(world.editor, world.editor_handle),
                                                 payloads.hashtag(world.remote.base, "forums")])
    assert await deliver(world, http, alice, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="tagged")
    assert 'class="h-card"' in comment.content and 'class="u-url mention"' in comment.content
    assert 'class="mention hashtag"' in comment.content and "translate=" not in comment.content


@pytest.mark.parametrize(("published", "expected"), [
    ("2026-11-24T10:25:43.966208+00:00", datetime(2026, 11, 24, 10, 25, 43, 966208, tzinfo=timezone.utc)),
    ("2026-11-24T10:18:38.430120Z", datetime(2026, 11, 24, 10, 18, 38, 430120, tzinfo=timezone.utc)),
    ("2026-11-24T10:30:00.000Z", datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)),
    ("2026-11-24T11:30:00+01:00", datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)),
    ("2026-11-24T12:25:43.966208+02:00", datetime(2026, 11, 24, 10, 25, 43, 966208, tzinfo=timezone.utc)),
    ("2026-11-24T10:00:00.123456789Z", datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=timezone.utc)),
], ids=["lemmy", "pleroma", "nodebb", "mbin-date-atom", "fraction-and-offset", "fedify-nanoseconds"])
async def test_published_is_read_in_every_servers_format(world, http, published, expected):
    """``published`` as Lemmy, Pleroma, NodeBB, Mbin and Fedify write it lands at the same instant."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Timed", published=published)
    assert await deliver(world, http, alice, activity) == "applied"
    assert (await stored(world.node, activity["object"]["id"])).published == expected


# --- actors given as lists (Prismo, Plume, Pleroma) ----------------------------------------------


async def test_prismo_comment_with_actor_and_attributed_to_as_person_lists_joins_thread(world, http):
    """Prismo's ``actor: [{"type": "Person", "id": …}]`` (and the same ``attributedTo``) is that one actor."""
    mx = world.remote.add_actor("mxb", key_index=1)
    activity = payloads.prismo_comment(mx, world.article_id, "<p>Prismo was here</p>")
    assert await deliver(world, http, mx, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Prismo was here")
    assert comment.actor.ap_id == mx.id


async def test_plume_one_element_attributed_to_list_is_its_author(world, http):
    """Plume's ``attributedTo: ["…/@/ana/"]`` names the activity's actor: not "attributed to someone else"."""
    ana = payloads.plume_author(world.remote)
    activity = mastodon_reply(world, ana, "Plume says hello", attributedTo=[ana.id])
    assert await deliver(world, http, ana, activity) == "applied"
    comment = await assert_comment(world, http, activity["object"]["id"], parent=world.article_id,
                                   visibility="public", text="Plume says hello")
    assert comment.actor.ap_id == ana.id


async def test_actor_list_of_one_person_and_other_things_is_that_person(world, http):
    """Pleroma reads an ``actor`` list as the one Person in it: a Person beside a Group is accepted as the Person."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Listed with my group")
    activity["actor"] = [{"type": "Person", "id": alice.id}, {"type": "Group", "id": f"{world.remote.base}/c/town"}]
    assert await deliver(world, http, alice, activity) == "applied"
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="Listed with my group")


@pytest.mark.parametrize("actors", [
    lambda alice, bob: [alice.id, bob.id],
    lambda alice, bob: [{"type": "Person", "id": alice.id}, {"type": "Person", "id": bob.id}],
], ids=["ids", "persons"])
async def test_actor_list_of_several_different_actors_is_refused_with_a_reason(world, http, actors):
    """Who did it cannot be told from a list of two different actors: 400 with a reason, nothing stored."""
    alice = world.remote.add_actor("alice", key_index=0)
    bob = world.remote.add_actor("bob", key_index=1)
    activity = mastodon_reply(world, alice, "Two of us")
    activity["actor"] = actors(alice, bob)
    status, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert status == 400 and "several different actors" in body["reason"]
    assert await stored(world.node, activity["object"]["id"]) is None


async def test_attributed_to_several_different_actors_is_refused_with_a_reason(world, http):
    """An object attributed to two people, neither first being the sender, is refused (400 with the reason)."""
    alice = world.remote.add_actor("alice", key_index=0)
    bob = world.remote.add_actor("bob", key_index=1)
    activity = mastodon_reply(world, alice, "Co-written", attributedTo=[
        {"type": "Person", "id": bob.id}, {"type": "Person", "id": alice.id}])
    status, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert status == 400 and "several different actors" in body["reason"]


# --- transient activities ------------------------------------------------------------------------


async def test_create_without_id_whose_object_is_on_the_actors_server_is_accepted(world, http):
    """A transient Create (no ``id``; ActivityPub §3.1) of a Note on the actor's server is taken, as Mastodon
    and Pleroma do: the Note joins the thread, and sending it again is a duplicate, not a second comment."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "No id on the envelope")
    del activity["id"]
    status, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert (status, body["status"]) == (202, "accepted"), body
    await world.node.node.processor.drain()
    await assert_comment(world, http, activity["object"]["id"], parent=world.article_id, visibility="public",
                         text="No id on the envelope")
    again, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert (again, body["status"]) == (202, "duplicate")


async def test_create_without_id_of_an_object_on_another_server_is_refused(world, http):
    """A transient Create whose object lives on another server proves nothing: 403, nothing stored."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Not mine")
    del activity["id"]
    activity["object"]["id"] = "https://elsewhere.example/notes/1"
    status, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert status == 403 and body["reason"]


async def test_create_without_id_or_object_id_is_refused(world, http):
    """Neither the activity nor its object has an id: there is nothing to key it by (400)."""
    alice = world.remote.add_actor("alice", key_index=0)
    activity = mastodon_reply(world, alice, "Anonymous")
    del activity["id"], activity["object"]["id"]
    status, body = await signed_post(http, world.node.url("/inbox"), activity, alice)
    assert status == 400 and "no usable id" in body["reason"]
