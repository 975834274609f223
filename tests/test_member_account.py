"""A member's account as other servers see it: profile Update, account Delete, a suspended account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from node.db.models import Actor, Follow, Member, Reaction, Revision
from node.federation.vocab import ACTIVITY_JSON, PUBLIC
from node.members import accounts
from node.members.posting import (PostingRefused, delete_account, edit_comment, like, post_comment,
                                  send_profile_update)
from tests.fakes.remote import fake_remote
from tests.members_fed_support import follow_member, make_person, publish, received, remote_reply
from tests.support import wait_for
from tests.threads_support import comment as object_of


@pytest.fixture
async def world(node, http):
    """Our article, bob's (remote) comment on it, and alice, a member followed by carol on another server."""
    async with fake_remote() as remote, fake_remote() as followers:
        remote.verify_posts = followers.verify_posts = True
        bob = remote.add_actor("bob")
        carol = followers.add_actor("carol", key_index=1)
        article = await publish(node)
        bob_note = await remote_reply(http, node, bob, article, "<p>Hello.</p>")
        alice = await make_person(node, "alice")
        await follow_member(http, node, carol, "alice")
        yield node, remote, followers, bob, article, bob_note, alice


async def arrived(remote, kind: str):
    async def check():
        return received(remote, kind)
    return await wait_for(check, what=f"a {kind} at {remote.base}")


async def test_a_profile_update_reaches_the_members_followers(world):
    """A new display name: an Update carrying the whole Person reaches carol's server, signed by alice."""
    node, remote, followers, bob, article, bob_note, alice = world
    async with node.node.sessions.begin() as session:
        (await session.get(Actor, alice)).name = "Alice Liddell"
    assert await send_profile_update(node.node, alice) == 1
    updates = await arrived(followers, "Update")
    assert updates[0]["object"]["type"] == "Person" and updates[0]["object"]["name"] == "Alice Liddell"
    assert (updates[0]["to"], updates[0]["cc"]) == ([PUBLIC], [node.url("/actors/alice/followers")])
    assert node.url("/actors/alice#main-key") in followers.verified_signers


async def test_an_unchanged_profile_sends_nothing(world):
    node, remote, followers, bob, article, bob_note, alice = world
    await send_profile_update(node.node, alice)
    assert await send_profile_update(node.node, alice) == 0


async def test_deleting_the_account_tells_followers_and_everyone_she_wrote_to(world):
    """Delete of the actor, signed with her key, reaches carol's server (a follower) and bob's (she replied to him)."""
    node, remote, followers, bob, article, bob_note, alice = world
    await post_comment(node.node, alice, bob_note, "Goodbye, bob")
    await arrived(remote, "Create")
    assert await delete_account(node.node, alice) == 2
    for server in (remote, followers):
        deletes = await arrived(server, "Delete")
        assert deletes[0]["object"] == deletes[0]["actor"] == node.url("/actors/alice")
    assert remote.verified_signers[-1] == node.url("/actors/alice#main-key")


async def test_a_deleted_members_comments_become_placeholders_and_replies_stay(world, http):
    node, remote, followers, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, article, "My words")
    await edit_comment(node.node, alice, comment.id, "My edited words")
    answer = await remote_reply(http, node, bob, comment.ap_id, "<p>An answer.</p>")
    await like(node.node, alice, bob_note)
    await delete_account(node.node, alice)
    async with http.get(article, headers={"Accept": "text/html"}) as response:
        page = await response.text()
    assert "My words" not in page and "My edited words" not in page and "An answer." in page
    assert (await object_of(node, answer)).parent_id == comment.id
    assert (await object_of(node, bob_note)).likes_count == 0
    async with node.node.sessions() as session:
        assert (await session.scalars(select(Revision).where(Revision.object_id == comment.id))).all() == []
        assert (await session.scalars(select(Reaction).where(Reaction.actor_id == alice))).all() == []
        assert (await session.scalars(select(Follow).where(Follow.followed_id == alice))).all() == []
        assert (await session.scalars(select(Member).where(Member.actor_id == alice))).all() == []


async def test_a_deleted_member_keeps_a_key_stub_and_her_name(world, http):
    """Her id still answers (a stub with the key, no name), her profile and WebFinger answer 410,
    and nobody can take her name."""
    node, remote, followers, bob, article, bob_note, alice = world
    await delete_account(node.node, alice)
    async with http.get(node.url("/actors/alice"), headers={"Accept": ACTIVITY_JSON}) as response:
        stub = await response.json(content_type=None)
    assert response.status == 200 and stub["name"] == "" and stub["publicKey"]["owner"] == node.url("/actors/alice")
    async with http.get(node.url("/@alice")) as response:
        assert response.status == 410
    host = node.base.removeprefix("http://")
    async with http.get(node.url(f"/.well-known/webfinger?resource=acct:alice@{host}")) as response:
        assert response.status == 410
    with pytest.raises(accounts.AccountError):
        await accounts.create_member(node.node, "alice", "another long enough passphrase")


async def test_a_deleted_member_can_no_longer_post(world):
    node, remote, followers, bob, article, bob_note, alice = world
    await delete_account(node.node, alice)
    with pytest.raises(PostingRefused) as refused:
        await post_comment(node.node, alice, article, "I am back")
    assert refused.value.status == 403


async def test_a_suspended_member_cannot_post(world):
    node, remote, followers, bob, article, bob_note, alice = world
    async with node.node.sessions() as session:
        member = await session.scalar(select(Member).where(Member.actor_id == alice))
    await accounts.suspend_member(node.node, member.id)
    with pytest.raises(PostingRefused) as refused:
        await post_comment(node.node, alice, article, "Let me in")
    assert (refused.value.status, refused.value.message) == (403, "your account is suspended")
