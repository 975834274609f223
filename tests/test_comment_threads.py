"""Replies from other servers become the article's discussion, at every depth and in any order."""

from __future__ import annotations

import json

from sqlalchemy import select

from node.db.models import Activity, Revision
from node.federation.vocab import ACTIVITY_JSON, AS_NS, PUBLIC
from tests import payloads
from tests.factories import follow_of
from tests.support import wait_for
from tests.threads_support import comment, create, deliver, note, page, thread  # noqa: F401 (thread: a fixture)


async def test_reply_to_the_article_becomes_a_comment(thread, http):
    """A Mastodon reply to our article is stored in its thread and shown on the page."""
    node, remote, actors, article = thread
    reply = note(actors["alice"], article, "<p>First!</p>")
    await deliver(node, http, actors["alice"], create(actors["alice"], reply))
    stored = await comment(node, reply["id"])
    assert (stored.kind, stored.in_reply_to) == ("comment", article)
    assert "First!" in await page(node, http)


async def test_replies_to_replies_keep_their_depth(thread, http):
    """Replies four levels deep are numbered 1, 1.1, 1.1.1, 1.1.1.1 in page order."""
    node, remote, actors, article = thread
    parent, names = article, ["alice", "bob", "carol", "alice"]
    for depth, name in enumerate(names):
        reply = note(actors[name], parent, f"<p>level {depth}</p>")
        await deliver(node, http, actors[name], create(actors[name], reply))
        parent = reply["id"]
    html = await page(node, http)
    positions = [html.index(f"level {d}") for d in range(4)]
    assert positions == sorted(positions)
    for number in ("1", "1.1", "1.1.1", "1.1.1.1"):
        assert f'id="comment-{number}"' in html


async def test_reply_to_a_comment_we_never_received_is_backfilled(thread, http):
    """Bob answers Alice's comment that never reached us: we fetch Alice's comment and keep both."""
    node, remote, actors, article = thread
    alices = note(actors["alice"], article, "<p>parent</p>")
    remote.serve(alices["id"].removeprefix(remote.base), {"@context": AS_NS, **alices})
    bobs = note(actors["bob"], alices["id"], "<p>child</p>")
    await deliver(node, http, actors["bob"], create(actors["bob"], bobs))
    parent, child = await comment(node, alices["id"]), await comment(node, bobs["id"])
    assert parent is not None and child is not None
    assert child.parent_id == parent.id


async def test_reply_arriving_before_its_parent_is_attached_when_the_parent_arrives(thread, http):
    """A child whose parent cannot be fetched yet waits, then joins the thread after the parent."""
    node, remote, actors, article = thread
    alices = note(actors["alice"], article, "<p>late parent</p>")
    bobs = note(actors["bob"], alices["id"], "<p>early child</p>")
    await deliver(node, http, actors["bob"], create(actors["bob"], bobs))
    assert await comment(node, bobs["id"]) is None
    await deliver(node, http, actors["alice"], create(actors["alice"], alices))
    child = await comment(node, bobs["id"])
    assert child is not None and child.parent_id == (await comment(node, alices["id"])).id


async def test_reply_outside_our_threads_is_not_stored(thread, http):
    """A reply whose ancestors never reach anything we hold is dropped."""
    node, remote, actors, article = thread
    elsewhere = note(actors["alice"], "http://127.0.0.1:9/nowhere", "<p>root elsewhere</p>")
    elsewhere.pop("inReplyTo")
    remote.serve(elsewhere["id"].removeprefix(remote.base), {"@context": AS_NS, **elsewhere})
    reply = note(actors["bob"], elsewhere["id"])
    await deliver(node, http, actors["bob"], create(actors["bob"], reply))
    assert await comment(node, reply["id"]) is None


async def test_newer_update_edits_and_keeps_the_old_version(thread, http):
    """An Update with a newer ``updated`` changes the comment and keeps a revision; an older one is ignored."""
    node, remote, actors, article = thread
    alice = actors["alice"]
    reply = note(alice, article, "<p>v1</p>")
    await deliver(node, http, alice, create(alice, reply))
    edited = {**reply, "content": "<p>v2</p>", "updated": "2026-11-24T12:00:00Z"}
    await deliver(node, http, alice, {"@context": AS_NS, "id": reply["id"] + "#u1", "type": "Update", "actor": alice.id, "object": edited})
    stale = {**reply, "content": "<p>v0</p>", "updated": "2026-11-24T11:00:00Z"}
    await deliver(node, http, alice, {"@context": AS_NS, "id": reply["id"] + "#u2", "type": "Update", "actor": alice.id, "object": stale})
    stored = await comment(node, reply["id"])
    assert "v2" in stored.content
    async with node.node.sessions() as session:
        revisions = (await session.scalars(select(Revision).where(Revision.object_id == stored.id))).all()
    assert ["v1" in r.content for r in revisions] == [True]


async def test_deleted_comment_leaves_a_placeholder_and_its_replies(thread, http):
    """Deleting a comment in the middle keeps its reply in place, and the URI is never re-created."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    middle = note(alice, article, "<p>middle</p>")
    leaf = note(bob, middle["id"], "<p>leaf</p>")
    await deliver(node, http, alice, create(alice, middle))
    await deliver(node, http, bob, create(bob, leaf))
    await deliver(node, http, alice, {"@context": AS_NS, "id": middle["id"] + "#delete", "type": "Delete",
                                       "actor": alice.id, "object": {"id": middle["id"], "type": "Tombstone"}})
    await deliver(node, http, alice, {**create(alice, middle), "id": middle["id"] + "/again"})
    html = await page(node, http)
    assert "[deleted]" in html and "leaf" in html and "middle" not in html
    assert (await comment(node, middle["id"])).deleted_at is not None


async def test_likes_and_boosts_are_counted_once_and_undone(thread, http):
    """Two likes by one actor count once; Undo takes it back; a boost counts separately."""
    node, remote, actors, article = thread
    alice = actors["alice"]
    like = {"@context": AS_NS, "id": alice.id + "#likes/1", "type": "Like", "actor": alice.id, "object": article}
    await deliver(node, http, alice, like)
    await deliver(node, http, alice, {**like, "id": alice.id + "#likes/2"})
    boost = {"@context": AS_NS, "id": alice.id + "#boosts/1", "type": "Announce", "actor": alice.id,
             "object": article, "to": [PUBLIC]}
    await deliver(node, http, alice, boost)
    counts = await comment(node, article)
    assert (counts.likes_count, counts.announces_count) == (1, 1)
    await deliver(node, http, alice, {"@context": AS_NS, "id": alice.id + "#undo/1", "type": "Undo",
                                       "actor": alice.id, "object": like})
    assert (await comment(node, article)).likes_count == 0


async def test_followers_only_reply_is_kept_off_public_pages(thread, http):
    """A followers-only reply is stored but neither on the page nor in the replies collection."""
    node, remote, actors, article = thread
    private = note(actors["alice"], article, "<p>just for friends</p>", public=False)
    await deliver(node, http, actors["alice"], create(actors["alice"], private))
    assert (await comment(node, private["id"])).visibility == "followers"
    assert "just for friends" not in await page(node, http)
    async with http.get(article + "/replies?page=1", headers={"Accept": ACTIVITY_JSON}) as response:
        assert private["id"] not in (await response.json())["orderedItems"]


async def test_hostile_html_is_sanitised_before_storage(thread, http):
    """Script, event handlers, javascript: links and styles never reach the database or the page."""
    node, remote, actors, article = thread
    hostile = ('<p onclick="steal()">hi<script>alert(1)</script><a href="javascript:alert(2)">x</a>'
               '<span style="position:fixed">y</span><img src=x onerror=alert(3)></p>')
    reply = note(actors["alice"], article, hostile)
    await deliver(node, http, actors["alice"], create(actors["alice"], reply))
    stored = (await comment(node, reply["id"])).content
    for bad in ("script", "onclick", "javascript:", "style=", "onerror", "<img"):
        assert bad not in stored
    assert "alert(1)" not in await page(node, http)


async def test_group_announces_a_public_comment_to_its_followers(thread, http):
    """FEP-1b12: a follower of the site receives the Group's Announce of each public comment."""
    node, remote, actors, article = thread
    carol = actors["carol"]
    await deliver(node, http, carol, follow_of(carol, node.url("/actors/forum")))
    reply = note(actors["alice"], article, "<p>announced</p>")
    await deliver(node, http, actors["alice"], create(actors["alice"], reply))
    node.node.wake_delivery()
    announces = await wait_for(lambda: [json.loads(r["body"]) for r in remote.received
                                        if json.loads(r["body"])["type"] == "Announce"])
    assert announces[0]["actor"] == node.url("/actors/forum")
    assert announces[0]["object"]["object"]["id"] == reply["id"]


async def relayed(remote, kind: str) -> list[dict]:
    """The Group's Announces of a ``kind`` activity the fake's followers received."""
    return await wait_for(lambda: [body for body in (json.loads(r["body"]) for r in remote.received)
                                   if body["type"] == "Announce" and isinstance(body["object"], dict)
                                   and body["object"].get("type") == kind])


async def test_group_passes_on_the_edit_of_a_public_comment_to_its_followers(thread, http):
    """FEP-1b12: when a comment the Group announced is edited (Mastodon's Update), the Group announces the Update."""
    node, remote, actors, article = thread
    alice, carol = actors["alice"], actors["carol"]
    await deliver(node, http, carol, follow_of(carol, node.url("/actors/forum")))
    reply = note(alice, article, "<p>first version</p>")
    await deliver(node, http, alice, create(alice, reply))
    edit = payloads.mastodon_edit(alice, reply, "<p>second version</p>", "2026-11-24T12:00:00Z")
    await deliver(node, http, alice, edit)
    node.node.wake_delivery()
    [announce] = await relayed(remote, "Update")
    assert announce["actor"] == node.url("/actors/forum")
    assert (announce["object"]["id"], announce["object"]["object"]["content"]) == (edit["id"], "<p>second version</p>")
    assert node.url("/actors/forum/followers") in announce["cc"]


async def test_group_passes_on_the_delete_of_a_public_comment_to_its_followers(thread, http):
    """FEP-1b12: when a comment the Group announced is deleted (Mastodon's Delete of a Tombstone), the Group
    announces the Delete, so followers blank their copy too."""
    node, remote, actors, article = thread
    alice, carol = actors["alice"], actors["carol"]
    await deliver(node, http, carol, follow_of(carol, node.url("/actors/forum")))
    reply = note(alice, article, "<p>soon gone</p>")
    await deliver(node, http, alice, create(alice, reply))
    delete = payloads.mastodon_delete(alice, reply["id"])
    await deliver(node, http, alice, delete)
    node.node.wake_delivery()
    [announce] = await relayed(remote, "Delete")
    assert (announce["actor"], announce["object"]["id"]) == (node.url("/actors/forum"), delete["id"])


async def test_group_does_not_pass_on_changes_of_comments_it_never_announced(thread, http):
    """A followers-only comment was never announced: its edit and delete are not announced either."""
    node, remote, actors, article = thread
    alice, carol = actors["alice"], actors["carol"]
    await deliver(node, http, carol, follow_of(carol, node.url("/actors/forum")))
    reply = note(alice, article, "<p>for my followers</p>", public=False)
    await deliver(node, http, alice, create(alice, reply))
    edited = {**reply, "content": "<p>still private</p>", "updated": "2026-11-24T12:00:00Z"}
    await deliver(node, http, alice, payloads.mastodon_edit(alice, edited, "<p>still private</p>",
                                                            "2026-11-24T12:00:00Z"))
    await deliver(node, http, alice, payloads.mastodon_delete(alice, reply["id"]))
    # Deliveries are queued in the transaction that applies an activity: nothing was queued.
    async with node.node.sessions() as session:
        queued = (await session.scalars(select(Activity.ap_type).where(Activity.is_local.is_(True)))).all()
    assert "Announce" not in queued
