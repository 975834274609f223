"""A member of the forum against a real Fedify 2.3.6 peer: followed, heard, answered.

The peer follows a member (its Follow goes to the member's inbox; the member's Accept passes
Fedify's signature check), receives the member's comment as a Create(Note) that Fedify verifies
with the member's own key, and replies to it: the reply nests under the member's comment here and
the member is notified.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from node.db import queries
from node.db.models import Notification
from node.members.posting import delete_comment, edit_comment, like, post_comment
from tests.interop.fednode_support import peer_view, wait_until
from tests.members_fed_support import make_person, publish

pytestmark = pytest.mark.interop


async def test_peer_follows_a_member_gets_her_note_and_its_reply_nests_under_it(node, fedify_peer):
    peer = fedify_peer
    alice = await make_person(node, "alice")
    article = await publish(node, "members-interop", "Members and Fedify")

    # Given the peer follows alice, and her Accept was verified by Fedify
    sent = await peer.follow(node.url("/actors/alice"))
    await peer.wait_for_received(type="Accept", object=sent["id"], timeout=15)
    assert [f for f in await peer.following() if node.url("/actors/alice") in str(f)], await peer_view(peer)

    # When alice comments, her Create(Note) reaches the peer, verified with her key
    comment = await post_comment(node.node, alice, article, "A member speaks *to the fediverse*.")
    create = await peer.wait_for_received(type="Create", actor=node.url("/actors/alice"), timeout=15)
    note = create["body"]["object"]
    assert note["id"] == comment.ap_id and "<em>to the fediverse</em>" in note["content"]
    assert note["context"] == article + "/context" and note["inReplyTo"] == article
    assert await peer.rejected() == [], await peer_view(peer)

    # Then the peer's reply to her note nests under it here, and alice hears of it
    reply = await peer.reply(comment.ap_id, "<p>Heard you, from Fedify.</p>")
    assert reply["ok"] is True, await peer_view(peer)

    async def stored():
        async with node.node.sessions() as session:
            return await queries.get_object(session, reply["note_id"])
    held = await wait_until(stored, "the peer's reply", timeout=15, peer=peer)
    assert (held.parent_id, held.root_id) == (comment.id, comment.root_id)
    async with node.node.sessions() as session:
        kinds = (await session.scalars(select(Notification.kind).where(Notification.recipient_id == alice))).all()
    assert kinds == ["reply"]


async def test_peer_receives_a_members_edit_like_and_delete(node, fedify_peer):
    """Update(Note), Like and Delete(Tombstone) from a member each pass Fedify's signature check."""
    peer = fedify_peer
    alice = await make_person(node, "alice")
    article = await publish(node, "members-changes", "Changes")
    sent = await peer.follow(node.url("/actors/alice"))
    await peer.wait_for_received(type="Accept", object=sent["id"], timeout=15)
    theirs = await peer.reply(article, "<p>A note to like.</p>")

    async def stored():
        async with node.node.sessions() as session:
            return await queries.get_object(session, theirs["note_id"])
    await wait_until(stored, "the peer's note", timeout=15, peer=peer)

    comment = await post_comment(node.node, alice, article, "first version")
    await edit_comment(node.node, alice, comment.id, "second version")
    update = await peer.wait_for_received(type="Update", actor=node.url("/actors/alice"), timeout=15)
    assert "second version" in update["body"]["object"]["content"]
    await like(node.node, alice, theirs["note_id"])
    liked = await peer.wait_for_received(type="Like", actor=node.url("/actors/alice"), timeout=15)
    assert liked["object"] == theirs["note_id"]
    await delete_comment(node.node, alice, comment.id)
    gone = await peer.wait_for_received(type="Delete", actor=node.url("/actors/alice"), timeout=15)
    assert gone["body"]["object"]["type"] == "Tombstone"
    assert await peer.rejected() == [], await peer_view(peer)
