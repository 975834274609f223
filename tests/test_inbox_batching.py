"""Activities that arrive together are stored together, and end up exactly as if taken one by one.

The inbox commits concurrent requests in one transaction (``InboxWriter``) and the
processor stores runs of plain replies in one transaction (``comments.take_plain_replies``,
the one reply store path applied to many).  These tests pin down that grouping changes nothing a peer or a reader can see.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from node.db import queries
from node.db.models import Activity, Delivery, Object, PendingReply
from node.federation import comments
from node.federation.actors import actor_values_from_ap
from tests.factories import follow_of
from tests.fakes.remote import signed_post
from tests.threads_support import comment, create, note, thread  # noqa: F401 (thread: a fixture)


async def post_together(node, http, pairs) -> list[tuple[int, dict]]:
    """POST every (actor, activity) at once, so that they share group commits; wait until applied."""
    answers = await asyncio.gather(*(signed_post(http, node.url("/inbox"), activity, actor)
                                     for actor, activity in pairs))
    await node.node.processor.drain()
    return answers


async def store_received(node, *activities: tuple[object, dict]) -> list[int]:
    """Rows as the inbox leaves them (verified, status ``received``, their actors known), not yet applied."""
    async with node.node.sessions.begin() as session:
        for actor in {actor.id: actor for actor, _ in activities}.values():
            await queries.upsert_remote_actor(session, actor_values_from_ap(actor.document))
        rows = [Activity(ap_id=activity["id"], ap_type=activity["type"], actor_ap_id=actor.id,
                         object_ap_id=activity["object"]["id"] if isinstance(activity["object"], dict) else activity["object"],
                         status="received", raw=activity) for actor, activity in activities]
        session.add_all(rows)
    return [row.id for row in rows]


async def test_replies_sent_at_once_are_each_stored_once(thread, http):
    """Forty replies from three servers' actors, sent concurrently, all become comments, counted once."""
    node, remote, actors, article = thread
    pairs = [(actor, create(actor, note(actor, article, f"<p>reply {i}</p>")))
             for i, actor in enumerate(list(actors.values()) * 14)][:40]
    answers = await post_together(node, http, pairs)
    assert [status for status, _ in answers] == [202] * 40
    async with node.node.sessions() as session:
        held = await queries.get_object(session, article)
        count = await session.scalar(select(func.count(Object.id)).where(Object.root_id == held.id))
        statuses = set((await session.scalars(select(Activity.status).where(Activity.is_local.is_(False)))).all())
    assert (count, held.replies_count, statuses) == (40, 40, {"applied"})


async def test_the_same_activity_twice_at_once_is_accepted_once(thread, http):
    """Two deliveries of one activity in the same group: one is accepted, the other is a duplicate."""
    node, remote, actors, article = thread
    alice = actors["alice"]
    activity = create(alice, note(alice, article))
    answers = await post_together(node, http, [(alice, activity), (alice, activity)])
    assert sorted(body["status"] for _, body in answers) == ["accepted", "duplicate"]
    async with node.node.sessions() as session:
        assert await session.scalar(select(func.count(Object.id)).where(Object.ap_id == activity["object"]["id"])) == 1


async def test_a_reply_and_its_reply_applied_together_keep_their_nesting(thread, http):
    """A reply and a reply to it in one batch: the second nests under the first."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    first = note(alice, article, "<p>first</p>")
    second = note(bob, first["id"], "<p>second</p>")
    await node.node.processor.apply_many(await store_received(node, (alice, create(alice, first)),
                                                              (bob, create(bob, second))))
    parent, child = await comment(node, first["id"]), await comment(node, second["id"])
    assert (child.parent_id, child.root_id) == (parent.id, parent.root_id)
    assert parent.replies_count == 1


async def test_a_batch_is_applied_in_arrival_order(thread, http):
    """Create, Like and Update of one reply in one batch end as they would one at a time."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    reply = note(alice, article, "<p>draft</p>")
    like = {"id": f"{bob.id}/likes/1", "type": "Like", "actor": bob.id, "object": reply["id"]}
    edited = {**reply, "content": "<p>final</p>", "updated": "2026-11-25T10:00:00Z"}
    update = {"id": reply["id"] + "#update", "type": "Update", "actor": alice.id, "object": edited}
    await node.node.processor.apply_many(await store_received(
        node, (alice, create(alice, reply)), (bob, like), (alice, update)))
    stored = await comment(node, reply["id"])
    assert (stored.content, stored.likes_count) == ("<p>final</p>", 1)


async def test_a_reply_stored_with_others_matches_one_stored_alone(thread, http):
    """The batch path and the one-at-a-time path store the same columns for the same reply."""
    node, remote, actors, article = thread
    alice = actors["alice"]
    alone = note(alice, article, '<p>same <a href="https://x.example/">link</a></p>', url="https://r.example/1")
    together = {**alone, "id": alone["id"] + "-b"}
    [alone_row] = await store_received(node, (alice, create(alice, alone)))
    assert await node.node.processor.apply(alone_row) == "applied"
    await node.node.processor.apply_many(await store_received(node, (alice, create(alice, together))))
    a, b = await comment(node, alone["id"]), await comment(node, together["id"])
    columns = ("kind", "ap_type", "actor_id", "content", "url", "in_reply_to", "parent_id", "root_id", "context",
               "visibility", "published", "updated", "name")
    assert {c: getattr(a, c) for c in columns} == {c: getattr(b, c) for c in columns}


async def test_a_waiting_child_is_attached_when_its_parent_arrives_in_a_batch(thread, http):
    """A reply parked for its parent joins the thread once the parent is stored by a batch."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    parent = note(alice, article, "<p>parent</p>")
    child = note(bob, parent["id"], "<p>early child</p>")
    async with node.node.sessions.begin() as session:
        await queries.upsert_remote_actor(session, actor_values_from_ap(bob.document))
        session.add(PendingReply(ap_id=child["id"], in_reply_to=parent["id"], actor_ap_id=bob.id, raw=child))
    await node.node.processor.apply_many(await store_received(node, (alice, create(alice, parent))))
    stored_parent, stored_child = await comment(node, parent["id"]), await comment(node, child["id"])
    assert stored_child is not None and stored_child.parent_id == stored_parent.id


async def test_waiting_replies_two_levels_deep_are_attached_and_counted_when_the_first_parent_arrives(thread, http):
    """A parked child and its parked grandchild join the thread, each under its own parent and counted there."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    parent = note(alice, article, "<p>parent</p>")
    child = note(bob, parent["id"], "<p>early child</p>")
    grandchild = note(alice, child["id"], "<p>earlier grandchild</p>")
    async with node.node.sessions.begin() as session:
        await queries.upsert_remote_actor(session, actor_values_from_ap(bob.document))
        session.add(PendingReply(ap_id=child["id"], in_reply_to=parent["id"], actor_ap_id=bob.id, raw=child))
        session.add(PendingReply(ap_id=grandchild["id"], in_reply_to=child["id"], actor_ap_id=alice.id, raw=grandchild))
    await node.node.processor.apply_many(await store_received(node, (alice, create(alice, parent))))
    stored = [await comment(node, document["id"]) for document in (parent, child, grandchild)]
    assert [c.parent_id for c in stored[1:]] == [stored[0].id, stored[1].id]
    assert [c.replies_count for c in stored] == [1, 1, 0]


async def test_every_comment_stored_reaches_comments_stored_once_with_its_moderation_state(thread, http, monkeypatch):
    """The hook point: a batch's replies and the waiting reply they bring in are each reported once."""
    node, remote, actors, article = thread
    alice, bob = actors["alice"], actors["bob"]
    reported = []
    original = comments.comments_stored

    async def recording(node_, session, stored, roots):
        reported.extend((c.ap_id, c.moderation) for c in stored)
        await original(node_, session, stored, roots)

    monkeypatch.setattr(comments, "comments_stored", recording)
    first, second = note(alice, article, "<p>one</p>"), note(alice, article, "<p>two</p>")
    child = note(bob, first["id"], "<p>early child</p>")
    async with node.node.sessions.begin() as session:
        await queries.upsert_remote_actor(session, actor_values_from_ap(bob.document))
        session.add(PendingReply(ap_id=child["id"], in_reply_to=first["id"], actor_ap_id=bob.id, raw=child))
    await node.node.processor.apply_many(await store_received(
        node, (alice, create(alice, first)), (alice, create(alice, second))))
    assert sorted(reported) == sorted((d["id"], "published") for d in (first, second, child))


async def test_a_reply_deleted_before_it_arrives_is_not_created_by_a_batch(thread, http):
    """A tombstoned id stays deleted when its Create comes in a batch."""
    node, remote, actors, article = thread
    alice = actors["alice"]
    reply = note(alice, article)
    delete = {"id": reply["id"] + "#delete", "type": "Delete", "actor": alice.id, "object": reply["id"]}
    await node.node.processor.apply_many(await store_received(node, (alice, delete), (alice, create(alice, reply))))
    assert await comment(node, reply["id"]) is None


async def test_every_public_reply_of_a_batch_is_announced_once_to_group_followers(thread, http):
    """FEP-1b12 in a batch: one Announce per public reply, each queued once for the follower's inbox."""
    node, remote, actors, article = thread
    alice, carol = actors["alice"], actors["carol"]
    await signed_post(http, node.url("/inbox"), follow_of(carol, node.url("/actors/forum")), carol)
    await node.node.processor.drain()
    replies = [note(alice, article, f"<p>batch {i}</p>") for i in range(3)]
    private = note(alice, article, "<p>followers only</p>", public=False)
    await node.node.processor.apply_many(await store_received(
        node, *((alice, create(alice, reply)) for reply in [*replies, private])))
    async with node.node.sessions() as session:
        queued = (await session.scalars(select(Delivery).where(Delivery.signer == "forum"))).all()
    announced = sorted(json.loads(row.body)["object"]["object"]["id"] for row in queued
                       if json.loads(row.body)["type"] == "Announce")
    assert announced == sorted(reply["id"] for reply in replies)
    assert {row.inbox for row in queued if json.loads(row.body)["type"] == "Announce"} == {carol.document["endpoints"]["sharedInbox"]}
