"""A member's comment, edit and delete, as other servers receive them (node.members.posting).

Real nodes on 127.0.0.1, real signatures: the fake servers verify every POST with the member's key
fetched from the node, as a strict server does.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from node.db import queries
from node.db.models import ModerationEntry, Notification, Object, Revision
from node.federation.vocab import ACTIVITY_JSON, PUBLIC
from node.members.posting import PostingRefused, delete_comment, edit_comment, post_comment
from node.moderation import actions
from tests.members_fed_support import (deliveries_of, follow_group, follow_member, make_person, publish, received,
                                       remote_reply, sent_by)
from tests.fakes.remote import fake_remote, signed_post
from tests.support import POLICY_DEFAULTS, make_settings, running_node, wait_for
from tests.threads_support import comment as object_of


@pytest.fixture
async def world(node, http):
    """Our article, bob's (remote) comment on it, and alice, a member of this node."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        bob = remote.add_actor("bob")
        article = await publish(node)
        bob_note = await remote_reply(http, node, bob, article, "<p>First!</p>")
        alice = await make_person(node, "alice")
        yield node, remote, bob, article, bob_note, alice


async def test_a_members_reply_reaches_the_parents_author_as_a_verified_note(world):
    """Alice's reply to bob's comment arrives at bob's server as a Create(Note) signed with alice's key."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "I *disagree*.")
    creates = await wait_for(lambda: received(remote, "Create"), what="the Create at bob's server")
    create = creates[0]
    assert create["actor"] == node.url("/actors/alice")
    assert create["object"]["id"] == comment.ap_id == node.url(f"/comments/{comment.id}")
    assert create["object"]["type"] == "Note" and "<em>disagree</em>" in create["object"]["content"]
    assert remote.verified_signers == [node.url("/actors/alice#main-key")]


async def test_a_members_reply_is_addressed_as_fep_11dd_asks(world):
    """to Public; cc the member's followers, the parent's author and the thread's owner; a Mention of the parent's
    author; the thread's context inherited."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "Hello bob")
    note = comment.raw
    assert note["to"] == [PUBLIC]
    assert note["cc"] == [node.url("/actors/alice/followers"), bob.id, node.url("/actors/editor")]
    assert note["tag"] == [{"type": "Mention", "href": bob.id, "name": f"@bob@{remote.base.removeprefix('http://')}"}]
    assert note["inReplyTo"] == bob_note and note["context"] == article + "/context"
    assert note["attributedTo"] == node.url("/actors/alice") and note["audience"] == node.url("/actors/forum")
    assert f'href="{bob.id}" class="u-url mention"' in note["content"]


async def test_the_note_served_at_its_id_is_the_one_delivered(world, http):
    """GET of the comment's id (ActivityStreams) answers the Note with the addressing its recipients got."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "Same everywhere")
    async with http.get(comment.ap_id, headers={"Accept": ACTIVITY_JSON}) as response:
        assert response.status == 200
        served = await response.json(content_type=None)
    for key in ("to", "cc", "tag", "context", "inReplyTo", "content", "attributedTo"):
        assert served[key] == comment.raw[key], key
    assert served["source"] == {"content": "Same everywhere", "mediaType": "text/markdown"}


async def test_followers_only_reply_is_addressed_to_followers_and_not_shown(world, http):
    """visibility="followers": to the member's followers, cc the addressed actors; the public page does not show it."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "just for my followers", visibility="followers")
    assert comment.raw["to"] == [node.url("/actors/alice/followers")]
    assert comment.raw["cc"] == [bob.id, node.url("/actors/editor")]
    creates = await wait_for(lambda: received(remote, "Create"), what="the Create at bob's server")
    assert creates[0]["object"]["to"] == [node.url("/actors/alice/followers")]
    async with http.get(article, headers={"Accept": "text/html"}) as response:
        assert "just for my followers" not in await response.text()


async def test_a_members_reply_goes_once_to_each_server_of_her_followers_and_addressees(world, http):
    """Followers and the parent's author on one server share its inbox: one delivery row there."""
    node, remote, bob, article, bob_note, alice = world
    carol, dan = remote.add_actor("carol", key_index=1), remote.add_actor("dan", key_index=2)
    await follow_member(http, node, carol, "alice", 1)
    await follow_member(http, node, dan, "alice", 2)
    comment = await post_comment(node.node, alice, bob_note, "To all of you")
    create = (await sent_by(node, node.url("/actors/alice"), "Create"))[-1]
    assert create.object_ap_id == comment.ap_id
    rows = await deliveries_of(node, create.ap_id)
    assert [row.inbox for row in rows] == [remote.base + "/inbox"]


async def test_the_group_announces_a_members_comment_to_its_followers(world, http):
    """FEP-1b12: the site Group's followers get an Announce wrapping alice's Create, as for a remote reply."""
    node, remote, bob, article, bob_note, alice = world
    async with fake_remote() as other:
        erin = other.add_actor("erin", key_index=3)
        await follow_group(http, node, other, erin)
        comment = await post_comment(node.node, alice, article, "A top-level comment")
        announces = await wait_for(lambda: received(other, "Announce"), what="the Group's Announce")
    assert announces[0]["actor"] == node.url("/actors/forum")
    assert announces[0]["object"]["type"] == "Create"
    assert announces[0]["object"]["object"]["id"] == comment.ap_id


async def test_a_held_comment_goes_nowhere_until_a_moderator_approves_it(tmp_path, http):
    """With the shipped policy a member's first comment is held: no Create; approved, it goes to the parent's author."""
    async with running_node(make_settings(tmp_path, **POLICY_DEFAULTS)) as node, fake_remote() as remote:
        remote.verify_posts = True
        bob = remote.add_actor("bob")
        article = await publish(node)
        bob_note = await _trusted_remote_comment(http, node, bob, article)
        alice = await make_person(node, "alice")
        comment = await post_comment(node.node, alice, bob_note, "my first words here")
        assert comment.moderation == "held"
        assert await sent_by(node, node.url("/actors/alice"), "Create") == []
        async with node.node.sessions() as session:
            log = (await session.scalars(select(ModerationEntry).where(
                ModerationEntry.action == "hold", ModerationEntry.target == comment.ap_id))).all()
        assert [line.rule for line in log] == ["first-comments"]
        async with node.node.sessions.begin() as session:
            held = await queries.get_object(session, comment.ap_id)
            await actions.approve(node.node, session, held, moderator="mod")
        node.node.wake_delivery()
        creates = await wait_for(lambda: received(remote, "Create"), what="the Create after approval")
    assert creates[0]["object"]["id"] == comment.ap_id


async def _trusted_remote_comment(http, node, bob, article) -> str:
    """bob's comment, held by the shipped policy and approved by a moderator."""
    from tests.factories import reply_to

    create = reply_to(article, bob)
    status, _ = await signed_post(http, node.url("/inbox"), create, bob)
    assert status == 202
    note = create["object"]["id"]
    await wait_for(lambda: object_of(node, note), what="bob's reply to be stored")
    async with node.node.sessions.begin() as session:
        held = await queries.get_object(session, note)
        if held.moderation == "held":
            await actions.approve(node.node, session, held, moderator="mod")
    return note


async def test_a_reply_in_a_locked_thread_is_refused_and_nothing_is_stored(world):
    """A locked thread: PostingRefused 403 saying so; no comment, no activity."""
    node, remote, bob, article, bob_note, alice = world
    async with node.node.sessions.begin() as session:
        await actions.lock(session, await queries.get_object(session, article), True, moderator="mod")
    with pytest.raises(PostingRefused) as refused:
        await post_comment(node.node, alice, bob_note, "Can I still?")
    assert refused.value.status == 403 and "locked" in refused.value.message
    assert await _comments_by(node, alice) == 0
    assert await sent_by(node, node.url("/actors/alice"), "Create") == []


async def test_a_reply_to_a_post_we_do_not_hold_is_refused_404(world):
    node, remote, bob, article, bob_note, alice = world
    with pytest.raises(PostingRefused) as refused:
        await post_comment(node.node, alice, remote.base + "/users/bob/statuses/404", "Hello?")
    assert refused.value.status == 404


async def test_an_empty_comment_is_refused_400(world):
    node, remote, bob, article, bob_note, alice = world
    with pytest.raises(PostingRefused) as refused:
        await post_comment(node.node, alice, article, "   \n ")
    assert (refused.value.status, refused.value.message) == (400, "the comment is empty")


async def test_an_edit_sends_an_update_and_keeps_the_earlier_version(world, http):
    """Update(Note) with a strictly newer ``updated`` reaches bob; a revision keeps the old text; the page says edited."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "Frist")
    edited = await edit_comment(node.node, alice, comment.id, "First, I meant")
    updates = await wait_for(lambda: received(remote, "Update"), what="the Update at bob's server")
    assert updates[0]["object"]["id"] == comment.ap_id
    assert "First, I meant" in updates[0]["object"]["content"]
    assert updates[0]["object"]["updated"] > updates[0]["object"]["published"]
    async with node.node.sessions() as session:
        revisions = (await session.scalars(select(Revision).where(Revision.object_id == comment.id))).all()
    assert [r.content for r in revisions] == ["<p>Frist</p>\n"]
    assert edited.updated is not None
    async with http.get(article, headers={"Accept": "text/html"}) as response:
        page = await response.text()
    assert "First, I meant" in page and 'class="edited"' in page


async def test_editing_someone_elses_comment_is_refused_403(world):
    node, remote, bob, article, bob_note, alice = world
    mallory = await make_person(node, "mallory")
    comment = await post_comment(node.node, alice, article, "mine")
    with pytest.raises(PostingRefused) as refused:
        await edit_comment(node.node, mallory, comment.ap_id, "yours now")
    assert refused.value.status == 403
    with pytest.raises(PostingRefused) as refused:
        await delete_comment(node.node, mallory, comment.id)
    assert refused.value.status == 403


async def test_a_delete_sends_a_tombstone_and_the_replies_stay_in_place(world, http):
    """Alice deletes her comment that bob answered: bob's server gets Delete(Tombstone), her id answers 410,
    and bob's answer still hangs under the "[deleted]" placeholder."""
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, bob_note, "I will regret this")
    answer = await remote_reply(http, node, bob, comment.ap_id, "<p>You will.</p>")
    await delete_comment(node.node, alice, comment.id)
    deletes = await wait_for(lambda: received(remote, "Delete"), what="the Delete at bob's server")
    assert deletes[0]["object"] == {"id": comment.ap_id, "type": "Tombstone", "formerType": "Note",
                                    "deleted": deletes[0]["object"]["deleted"]}
    async with http.get(comment.ap_id, headers={"Accept": ACTIVITY_JSON}) as response:
        assert response.status == 410
    held = await object_of(node, answer)
    assert held.parent_id == comment.id
    async with http.get(article, headers={"Accept": "text/html"}) as response:
        page = await response.text()
    assert "[deleted]" in page and "You will." in page and "I will regret this" not in page


async def test_a_remote_reply_to_a_members_comment_nests_under_it(world, http):
    node, remote, bob, article, bob_note, alice = world
    comment = await post_comment(node.node, alice, article, "What do you think, bob?")
    answer = await remote_reply(http, node, bob, comment.ap_id, "<p>I think so.</p>")
    held = await object_of(node, answer)
    assert (held.parent_id, held.root_id) == (comment.id, comment.root_id)


async def _comments_by(node, actor_id: int) -> int:
    async with node.node.sessions() as session:
        return int(await session.scalar(select(func.count(Object.id)).where(Object.actor_id == actor_id)))


async def test_a_members_reply_to_another_member_notifies_her(world):
    """Alice answers mallory's comment: mallory gets a "reply" notification, written with the comment."""
    node, remote, bob, article, bob_note, alice = world
    mallory = await make_person(node, "mallory")
    theirs = await post_comment(node.node, mallory, article, "Anyone?")
    answer = await post_comment(node.node, alice, theirs.ap_id, "Me!")
    async with node.node.sessions() as session:
        found = (await session.execute(select(Notification.recipient_id, Notification.kind, Notification.object_id)
                                       .where(Notification.recipient_id == mallory))).all()
    assert [tuple(row) for row in found] == [(mallory, "reply", answer.id)]


async def test_a_handle_in_the_text_is_mentioned_addressed_and_delivered(world, http):
    """"@carol@host" in alice's Markdown: a Mention of carol, carol in cc, and carol's server gets the Create;
    a handle nobody here knows changes nothing."""
    node, remote, bob, article, bob_note, alice = world
    async with fake_remote() as elsewhere:
        elsewhere.verify_posts = True
        carol = elsewhere.add_actor("carol", key_index=1)
        await follow_member(http, node, carol, "alice")  # so this node knows carol
        handle = f"@carol@{elsewhere.base.removeprefix('http://')}"
        comment = await post_comment(node.node, alice, article, f"What do you say, {handle}? And @nobody@nowhere.example?")
        creates = await wait_for(lambda: received(elsewhere, "Create"), what="the Create at carol's server")
    assert {"type": "Mention", "href": carol.id, "name": handle} in comment.raw["tag"]
    assert carol.id in comment.raw["cc"] and len(comment.raw["tag"]) == 2  # the article's author, and carol
    assert creates[0]["object"]["id"] == comment.ap_id
