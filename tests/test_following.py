"""Following both ways over real HTTP on 127.0.0.1.

Others following us: Follow of the Group or an author → signed Accept (or a
pending request under manual approval), Undo, paged followers collections, and
Create/Update/Delete reaching followers.  Us following others: WebFinger, a
signed Follow from our Group, their Accept or Reject, Undo, and the articles of
a followed Group stored as remote articles.  The node runs its own delivery
worker; remote servers are fakes that verify our signatures.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, insert, select

from node.content import Draft
from node.db import queries
from node.db.models import Actor, Delivery, Follow, Object
from node.federation.vocab import ACTIVITY_JSON, AS_NS, PUBLIC
from node.services import following
from node.services.publish import delete_article, publish_article
from tests.factories import follow_of
from tests.fakes.remote import fake_remote, signed_post
from tests.support import make_settings, running_node, wait_for


@pytest.fixture
async def remote():
    async with fake_remote() as server:
        server.verify_posts = True  # every request we send must verify with our own verifier
        yield server


@pytest.fixture
async def manual(tmp_path):
    """A node whose actors approve followers by hand."""
    async with running_node(make_settings(tmp_path, manual_approval=True)) as running:
        yield running


def of_type(remote, kind: str) -> list[dict]:
    """The activities of type ``kind`` the fake received, oldest first."""
    return [body for body in (json.loads(r["body"]) for r in remote.received) if body["type"] == kind]


async def get_ap(http, url: str) -> tuple[int, dict]:
    async with http.get(url, headers={"Accept": ACTIVITY_JSON}) as response:
        return response.status, await response.json(content_type=None)


async def follows(node) -> list[Follow]:
    async with node.sessions() as session:
        return list((await session.scalars(select(Follow).order_by(Follow.id))).all())


async def applied(node, activity_id: str) -> str | None:
    """The processing status of a received activity once it is no longer waiting."""
    async with node.sessions() as session:
        row = await queries.get_activity(session, activity_id)
    return row.status if row is not None and row.status != "received" else None


async def publish(node, slug: str = "hello", body: str = "Some text."):
    async with node.sessions.begin() as session:
        author = await queries.get_local_actor(session, node.settings.default_author)
        published = await publish_article(session, node.settings, Draft(slug.title(), slug, body), author)
    node.wake_delivery()
    return published


async def follow_site(node, http, actor, n: int = 1, *, target: str = "/actors/forum") -> dict:
    """``actor`` follows a local actor and the follow is applied; returns the Follow sent."""
    follow = follow_of(actor, node.url(target), n)
    status, _ = await signed_post(http, node.url(target + "/inbox"), follow, actor)
    assert status == 202
    await wait_for(lambda: applied(node.node, follow["id"]))
    return follow


# --- others following us -------------------------------------------------------------------------


async def test_following_an_author_gets_an_accept_signed_by_the_author(node, http, remote):
    """A Follow of an author (not the Group) is accepted by that author, with a signature that verifies."""
    # Given a remote actor
    alice = remote.add_actor("alice")
    # When she follows the author "editor"
    follow = await follow_site(node, http, alice, target="/actors/editor")
    # Then the author's Accept embedding her Follow reaches her, signed with the author's key
    accept = (await wait_for(lambda: of_type(remote, "Accept")))[0]
    assert (accept["actor"], accept["object"]["id"]) == (node.url("/actors/editor"), follow["id"])
    assert remote.verified_signers == [node.url("/actors/editor#main-key")]
    [row] = await follows(node.node)
    assert (row.state, row.followed.username) == ("accepted", "editor")


async def test_a_repeated_follow_gets_another_accept(node, http, remote):
    """Following again with a new Follow id (the follower lost our Accept) is answered again."""
    # Given an accepted follower
    alice = remote.add_actor("alice")
    await follow_site(node, http, alice, 1)
    await wait_for(lambda: len(of_type(remote, "Accept")) == 1)
    # When she sends a new Follow
    second = await follow_site(node, http, alice, 2)
    # Then a second Accept names the new Follow, and there is still one follow row
    accepts = await wait_for(lambda: (a := of_type(remote, "Accept")) and len(a) == 2 and a)
    assert accepts[1]["object"]["id"] == second["id"]
    assert len(await follows(node.node)) == 1


async def test_undo_follow_embedded_removes_the_follower(node, http, remote):
    """Undo with the Follow embedded removes it, and the followers collection's total drops."""
    # Given an accepted follower of the Group
    alice = remote.add_actor("alice")
    follow = await follow_site(node, http, alice)
    assert (await get_ap(http, node.url("/actors/forum/followers")))[1]["totalItems"] == 1
    # When she sends Undo(Follow) with the Follow embedded
    undo = {"@context": AS_NS, "id": f"{alice.id}#undo/1", "type": "Undo", "actor": alice.id, "object": follow}
    await signed_post(http, node.url("/inbox"), undo, alice)
    # Then the follow is gone and the total is 0
    assert await wait_for(lambda: applied(node.node, undo["id"])) == "applied"
    assert await follows(node.node) == []
    assert (await get_ap(http, node.url("/actors/forum/followers")))[1]["totalItems"] == 0


async def test_undo_follow_by_id_removes_the_follower(node, http, remote):
    """Undo naming the Follow only by its id removes it too."""
    # Given an accepted follower
    alice = remote.add_actor("alice")
    follow = await follow_site(node, http, alice)
    # When she sends Undo whose object is the Follow's id
    undo = {"@context": AS_NS, "id": f"{alice.id}#undo/1", "type": "Undo", "actor": alice.id, "object": follow["id"]}
    await signed_post(http, node.url("/inbox"), undo, alice)
    # Then the follow is gone
    assert await wait_for(lambda: applied(node.node, undo["id"])) == "applied"
    assert await follows(node.node) == []


async def test_undo_of_someone_elses_follow_changes_nothing(node, http, remote):
    """An Undo by another actor naming alice's Follow id is ignored (the twin of the tests above)."""
    # Given alice follows the Group, and bob lives on the same server
    alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
    follow = await follow_site(node, http, alice)
    # When bob sends an Undo naming alice's Follow
    undo = {"@context": AS_NS, "id": f"{bob.id}#undo/1", "type": "Undo", "actor": bob.id, "object": follow["id"]}
    await signed_post(http, node.url("/inbox"), undo, bob)
    # Then alice still follows
    assert await wait_for(lambda: applied(node.node, undo["id"])) == "ignored"
    assert [f.state for f in await follows(node.node)] == ["accepted"]


async def test_followers_collection_pages_through_real_members_with_real_totals(node, http):
    """45 accepted followers (and 2 pending) give totalItems 45 over two pages of 40 and 5."""
    # Given 45 accepted and 2 pending remote followers of the Group
    ids = [f"https://f{n}.test/users/u{n}" for n in range(47)]
    async with node.node.sessions.begin() as session:
        site = await queries.get_local_actor(session, "forum")
        await session.execute(insert(Actor), [
            {"ap_id": i, "ap_type": "Person", "is_local": False, "username": f"u{n}", "domain": f"f{n}.test",
             "inbox": i + "/inbox"} for n, i in enumerate(ids)
        ])
        rows = (await session.scalars(select(Actor).where(Actor.ap_id.in_(ids)))).all()
        by_id = {row.ap_id: row.id for row in rows}
        await session.execute(insert(Follow), [
            {"follower_id": by_id[i], "followed_id": site.id, "state": "accepted" if n < 45 else "pending"}
            for n, i in enumerate(ids)
        ])
    collection = node.url("/actors/forum/followers")
    # When the collection and its pages are fetched
    _, top = await get_ap(http, collection)
    _, first = await get_ap(http, top["first"])
    _, second = await get_ap(http, first["next"])
    # Then the totals are real and the pages hold exactly the accepted followers
    assert (top["type"], top["totalItems"], top["last"]) == ("OrderedCollection", 45, collection + "?page=2")
    assert (len(first["orderedItems"]), len(second["orderedItems"])) == (40, 5)
    assert set(first["orderedItems"]) | set(second["orderedItems"]) == set(ids[:45])
    assert "next" not in second and second["prev"] == collection + "?page=1"
    assert first["partOf"] == collection


async def test_manual_approval_keeps_a_follow_pending_and_says_so(manual, http, remote):
    """With manual approval the actor says manuallyApprovesFollowers, and a Follow waits unanswered."""
    # Given a node approving followers by hand
    alice = remote.add_actor("alice")
    # When alice follows the Group
    await follow_site(manual, http, alice)
    # Then the follow is pending, no Accept is queued, and the actor document says why
    assert [f.state for f in await follows(manual.node)] == ["pending"]
    async with manual.node.sessions() as session:
        assert await session.scalar(select(func.count(Delivery.id))) == 0
    _, group = await get_ap(http, manual.url("/actors/forum"))
    assert group["manuallyApprovesFollowers"] is True


async def test_approving_a_follower_sends_accept_and_then_articles(manual, http, remote):
    """Approving a pending follower sends the Accept; the next article's Create then reaches them."""
    # Given a pending follower
    alice = remote.add_actor("alice")
    follow = await follow_site(manual, http, alice)
    [pending] = await follows(manual.node)
    # When the operator approves it and publishes an article
    await following.answer_follower(manual.node, pending.id, accept=True)
    manual.node.wake_delivery()
    accept = (await wait_for(lambda: of_type(remote, "Accept")))[0]
    await publish(manual.node)
    # Then alice got the Accept of her Follow, then the Create
    assert accept["object"]["id"] == follow["id"]
    create = (await wait_for(lambda: of_type(remote, "Create")))[0]
    assert create["object"]["id"] == manual.url("/articles/hello")
    assert [f.state for f in await follows(manual.node)] == ["accepted"]


async def test_rejecting_a_follower_sends_reject_and_no_articles(manual, http, remote):
    """Rejecting a pending follower sends a Reject, forgets the request, and queues nothing for them later."""
    # Given a pending follower
    alice = remote.add_actor("alice")
    follow = await follow_site(manual, http, alice)
    [pending] = await follows(manual.node)
    # When the operator rejects it
    await following.answer_follower(manual.node, pending.id, accept=False)
    manual.node.wake_delivery()
    # Then alice got a Reject of her Follow, and a new article is queued for nobody
    reject = (await wait_for(lambda: of_type(remote, "Reject")))[0]
    assert (reject["actor"], reject["object"]["id"]) == (manual.url("/actors/forum"), follow["id"])
    assert await follows(manual.node) == []
    assert (await publish(manual.node)).deliveries == 0


async def test_publishing_sends_create_then_an_edit_sends_update_with_a_newer_updated(node, http, remote):
    """A new article reaches followers as Create; publishing the same slug again sends Update, newer `updated`."""
    # Given a follower of the author
    alice = remote.add_actor("alice")
    await follow_site(node, http, alice, target="/actors/editor")
    # When an article is published, then edited
    await publish(node.node, body="First version.")
    create = (await wait_for(lambda: of_type(remote, "Create")))[0]
    await publish(node.node, body="Second version.")
    update = (await wait_for(lambda: of_type(remote, "Update")))[0]
    # Then the Update carries the same article, its new content and a strictly newer `updated`
    assert create["object"]["id"] == update["object"]["id"] == node.url("/articles/hello")
    assert update["id"] != create["id"]
    assert "Second version." in update["object"]["content"]
    assert update["object"]["updated"] > create["object"]["updated"]
    assert update["actor"] == node.url("/actors/editor")


async def test_deleting_sends_delete_and_the_url_answers_410_tombstone(node, http, remote):
    """`fednode delete` sends Delete(Tombstone) to followers, and the article URL answers 410 with a Tombstone."""
    # Given an article delivered to a follower of the Group
    alice = remote.add_actor("alice")
    await follow_site(node, http, alice)
    await publish(node.node)
    await wait_for(lambda: of_type(remote, "Create"))
    # When the article is deleted
    async with node.node.sessions.begin() as session:
        await delete_article(session, node.settings, "hello")
    node.node.wake_delivery()
    # Then the follower receives a Delete of it, and its URL is gone
    delete = (await wait_for(lambda: of_type(remote, "Delete")))[0]
    assert (delete["object"]["id"], delete["object"]["type"]) == (node.url("/articles/hello"), "Tombstone")
    status, document = await get_ap(http, node.url("/articles/hello"))
    assert (status, document["type"], document["id"]) == (410, "Tombstone", node.url("/articles/hello"))
    async with http.get(node.url("/articles/hello")) as page:
        assert page.status == 410


# --- us following others -----------------------------------------------------------------------------


def serve_group(remote, username: str = "forum"):
    """A remote Group actor with WebFinger, like another Fednode or a Lemmy community."""
    group = remote.add_actor(username, kind="Group", key_index=2)
    host = f"127.0.0.1:{remote.port}"
    remote.serve("/.well-known/webfinger", {
        "subject": f"acct:{username}@{host}",
        "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": group.id}],
    }, content_type="application/jrd+json")
    return group


async def our_follow(node) -> Follow:
    async with node.sessions() as session:
        site = await following.site_actor(session, node.settings)
        [row] = await following.list_following(session, site)
        return row


async def follow_remote_group(node, remote):
    """The site follows the fake's Group by handle; returns (group, the Follow it received)."""
    group = serve_group(remote)
    row = await following.follow(node.node, f"@forum@127.0.0.1:{remote.port}")
    node.node.wake_delivery()
    sent = (await wait_for(lambda: of_type(remote, "Follow")))[0]
    assert sent["id"] == row.ap_id
    return group, sent


async def answer_our_follow(node, http, group, sent: dict, kind: str) -> str:
    """The remote Group answers our Follow with ``kind`` (Accept or Reject); returns the processing status."""
    answer = {"@context": AS_NS, "id": f"{group.id}#answers/1", "type": kind, "actor": group.id, "object": sent}
    status, _ = await signed_post(http, node.url("/inbox"), answer, group)
    assert status == 202
    return await wait_for(lambda: applied(node.node, answer["id"]))


async def test_following_a_remote_group_sends_a_signed_follow(node, remote):
    """`fednode follow @forum@host` finds the Group by WebFinger and sends a Follow signed by our Group."""
    # Given a remote Group reachable by WebFinger
    # When the site follows it
    group, sent = await follow_remote_group(node, remote)
    # Then the Group's inbox got a Follow from our Group, verified with our key, and the follow is pending
    assert (sent["actor"], sent["object"]) == (node.url("/actors/forum"), group.id)
    assert remote.posts_to("/users/forum/inbox")
    assert remote.verified_signers == [node.url("/actors/forum#main-key")]
    assert (await our_follow(node.node)).state == "pending"


async def test_an_accept_of_our_follow_makes_it_accepted(node, http, remote):
    """The remote Group's signed Accept turns our pending follow into an accepted one, listed in `following`."""
    # Given a Follow we sent
    group, sent = await follow_remote_group(node, remote)
    # When the Group accepts it
    outcome = await answer_our_follow(node, http, group, sent, "Accept")
    # Then the follow is accepted and our Group's following collection counts it
    assert outcome == "applied"
    assert (await our_follow(node.node)).state == "accepted"
    _, collection = await get_ap(http, node.url("/actors/forum/following"))
    _, page = await get_ap(http, collection["first"])
    assert (collection["totalItems"], page["orderedItems"]) == (1, [group.id])


async def test_a_reject_of_our_follow_makes_it_rejected(node, http, remote):
    """The remote Group's signed Reject marks our follow rejected."""
    # Given a Follow we sent
    group, sent = await follow_remote_group(node, remote)
    # When the Group rejects it
    outcome = await answer_our_follow(node, http, group, sent, "Reject")
    # Then the follow is rejected
    assert outcome == "applied"
    assert (await our_follow(node.node)).state == "rejected"


async def test_an_accept_from_someone_else_changes_nothing(node, http, remote):
    """An Accept of our Follow sent by another actor than the followed Group is ignored."""
    # Given a Follow we sent to the Group, and another actor on the same server
    group, sent = await follow_remote_group(node, remote)
    mallory = remote.add_actor("mallory", key_index=3)
    # When that other actor "accepts" our Follow
    outcome = await answer_our_follow(node, http, mallory, sent, "Accept")
    # Then the follow is still pending
    assert outcome == "ignored"
    assert (await our_follow(node.node)).state == "pending"


async def test_unfollowing_sends_undo_of_our_follow(node, http, remote):
    """`fednode unfollow` sends Undo embedding our Follow, and forgets the follow."""
    # Given an accepted follow of the remote Group
    group, sent = await follow_remote_group(node, remote)
    await answer_our_follow(node, http, group, sent, "Accept")
    # When the site unfollows it
    await following.unfollow(node.node, f"forum@127.0.0.1:{remote.port}")
    node.node.wake_delivery()
    # Then the Group receives Undo(Follow) naming the Follow it accepted, and nothing is followed any more
    undo = (await wait_for(lambda: of_type(remote, "Undo")))[0]
    assert (undo["actor"], undo["object"]["id"], undo["object"]["object"]) == (node.url("/actors/forum"), sent["id"], group.id)
    async with node.node.sessions() as session:
        assert await following.list_following(session, await following.site_actor(session, node.settings)) == []


def remote_article(author, group_id: str, n: int = 1) -> dict:
    """Create(Article) by ``author`` in the thread of the Group ``group_id`` (FEP-1b12 audience)."""
    article_id = f"{author.id}/articles/{n}"
    return {
        "@context": AS_NS, "id": f"{article_id}/activity", "type": "Create", "actor": author.id,
        "to": [PUBLIC], "cc": [group_id],
        "object": {
            "id": article_id, "type": "Article", "name": f"Remote post {n}", "content": "<p>From afar.</p>",
            "attributedTo": author.id, "audience": group_id, "to": [PUBLIC], "cc": [group_id],
            "published": "2026-11-24T10:00:00Z", "url": article_id,
        },
    }


async def test_articles_of_a_followed_group_are_stored_as_remote_articles(node, http, remote):
    """A Create(Article) by an author on the followed Group's server, in that Group, is stored (remote, kind article)."""
    # Given an accepted follow of the remote Group, and an author on its server
    group, sent = await follow_remote_group(node, remote)
    await answer_our_follow(node, http, group, sent, "Accept")
    bob = remote.add_actor("bob", key_index=1)
    activity = remote_article(bob, group.id)
    # When that author's article arrives
    await signed_post(http, node.url("/inbox"), activity, bob)
    # Then it is stored as a remote article
    assert await wait_for(lambda: applied(node.node, activity["id"])) == "applied"
    async with node.node.sessions() as session:
        stored = await queries.get_object(session, activity["object"]["id"])
    assert (stored.kind, stored.is_local, stored.name, stored.actor.ap_id) == ("article", False, "Remote post 1", bob.id)


async def test_articles_from_a_server_we_do_not_follow_are_ignored(node, http, remote):
    """The same Create(Article) from a server whose Group we do not follow is not stored."""
    # Given a followed Group on one server, and another server with its own Group we never followed
    group, sent = await follow_remote_group(node, remote)
    await answer_our_follow(node, http, group, sent, "Accept")
    async with fake_remote() as stranger_server:
        stranger_group = stranger_server.add_actor("forum", kind="Group", key_index=4)
        carol = stranger_server.add_actor("carol", key_index=5)
        activity = remote_article(carol, stranger_group.id)
        # When an article arrives from there
        status, _ = await signed_post(http, node.url("/inbox"), activity, carol)
        # Then it is accepted at the door but not stored
        assert status == 202
        assert await wait_for(lambda: applied(node.node, activity["id"])) == "ignored"
    async with node.node.sessions() as session:
        assert await queries.get_object(session, activity["object"]["id"]) is None
        assert await session.scalar(select(func.count(Object.id)).where(Object.is_local.is_(False))) == 0
