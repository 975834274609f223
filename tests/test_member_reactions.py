"""A member's likes and boosts, and taking them back, as other servers receive them (node.members.posting)."""

from __future__ import annotations

import pytest

from node.federation.vocab import PUBLIC
from node.members.posting import PostingRefused, boost, like, reactions_of, unboost, unlike
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import follow_member, make_person, publish, received, remote_reply
from tests.support import wait_for
from tests.threads_support import comment as object_of


@pytest.fixture
async def world(node, http):
    """Our article, bob's (remote) comment on it, and alice, a member of this node."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        bob = remote.add_actor("bob")
        article = await publish(node)
        bob_note = await remote_reply(http, node, bob, article, "<p>Likeable.</p>")
        alice = await make_person(node, "alice")
        yield node, remote, bob, article, bob_note, alice


async def arrived(remote, kind: str, count: int = 1):
    async def check():
        found = received(remote, kind)
        return found if len(found) >= count else None
    return await wait_for(check, what=f"{count} {kind} at the fake server")


async def test_a_like_reaches_the_author_verified_and_counts_once(world):
    """Liking twice sends one Like, signed by the member, and counts one."""
    node, remote, bob, article, bob_note, alice = world
    await like(node.node, alice, bob_note)
    liked = await like(node.node, alice, bob_note)
    likes = await arrived(remote, "Like")
    assert (likes[0]["actor"], likes[0]["object"], likes[0]["to"]) == (node.url("/actors/alice"), bob_note, [bob.id])
    assert liked.likes_count == 1 and len(received(remote, "Like")) == 1
    assert node.url("/actors/alice#main-key") in remote.verified_signers
    assert await reactions_of(node.node, alice, [liked.id]) == {liked.id: {"like"}}


async def test_unlike_sends_undo_embedding_the_like_and_uncounts(world):
    node, remote, bob, article, bob_note, alice = world
    await like(node.node, alice, bob_note)
    target = await unlike(node.node, alice, bob_note)
    undos = await arrived(remote, "Undo")
    like_sent = received(remote, "Like")[0]
    assert undos[0]["object"]["id"] == like_sent["id"] and undos[0]["object"]["type"] == "Like"
    assert target.likes_count == 0
    assert await reactions_of(node.node, alice, [target.id]) == {}


async def test_a_boost_reaches_the_author_and_the_members_followers(world, http):
    """Announce to Public, cc the author and the member's followers; the follower's server gets it too."""
    node, remote, bob, article, bob_note, alice = world
    async with fake_remote() as elsewhere:
        carol = elsewhere.add_actor("carol", key_index=1)
        await follow_member(http, node, carol, "alice")
        boosted = await boost(node.node, alice, bob_note)
        announces = await arrived(remote, "Announce")
        at_follower = await arrived(elsewhere, "Announce")
    assert announces[0]["object"] == bob_note and announces[0]["to"] == [PUBLIC]
    assert announces[0]["cc"] == [bob.id, node.url("/actors/alice/followers")]
    assert at_follower[0]["id"] == announces[0]["id"]
    assert boosted.announces_count == 1


async def test_unboost_sends_undo_of_the_announce(world):
    node, remote, bob, article, bob_note, alice = world
    await boost(node.node, alice, bob_note)
    target = await unboost(node.node, alice, bob_note)
    undos = await arrived(remote, "Undo")
    assert undos[0]["object"]["type"] == "Announce" and undos[0]["object"]["object"] == bob_note
    assert target.announces_count == 0


async def test_an_unlisted_post_cannot_be_boosted(world, http):
    """Boosting would make public what its author kept off public timelines: 403."""
    node, remote, bob, article, bob_note, alice = world
    create = reply_to(article, bob)
    for document in (create, create["object"]):
        document["to"], document["cc"] = [bob.document["followers"]], [PUBLIC]
    status, _ = await signed_post(http, node.url("/inbox"), create, bob)
    assert status == 202
    unlisted = create["object"]["id"]
    await wait_for(lambda: object_of(node, unlisted), what="the unlisted reply")
    with pytest.raises(PostingRefused) as refused:
        await boost(node.node, alice, unlisted)
    assert refused.value.status == 403


async def test_a_post_we_do_not_hold_cannot_be_liked(world):
    node, remote, bob, article, bob_note, alice = world
    with pytest.raises(PostingRefused) as refused:
        await like(node.node, alice, remote.base + "/users/bob/statuses/404")
    assert refused.value.status == 404
