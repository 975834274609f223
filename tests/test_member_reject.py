"""Issue 13: a source that answers our member's reply with Reject has closed its comments.

A discussed page that is itself a fediverse post (a Mastodon status here) is its own thread; when
its author's server refuses a member's reply with ``Reject`` (as GoToSocial's interaction policies
do), the discussion is labelled closed at the source and continues here.
"""

from __future__ import annotations

import pytest

from node.db import discussions as db
from node.discussions.service import open_discussion
from node.federation.vocab import AS_NS
from node.members.posting import post_comment
from tests.factories import mastodon_status
from tests.fakes.remote import fake_remote, signed_post
from tests.members_fed_support import make_person, received, sent_by
from tests.support import wait_for


@pytest.fixture
async def world(node):
    """A discussion of bob's Mastodon status, and alice's reply to it, delivered to bob's server."""
    async with fake_remote() as remote:
        bob = remote.add_actor("bob")
        status = mastodon_status(remote, bob, 1)
        remote.serve("/users/bob/statuses/1", status)
        opened = await open_discussion(node.node, status["id"])
        assert opened.document.kind == "fediverse"
        alice = await make_person(node, "alice")
        reply = await post_comment(node.node, alice, status["id"], "Why close the comments?")

        async def delivered():
            return received(remote, "Create")
        await wait_for(delivered, what="alice's reply at bob's server")
        yield node, remote, bob, status, opened.document.id, reply


def reject_of(actor, object_id: str, target: str | None = None, n: int = 1) -> dict:
    """GoToSocial's answer to a reply its interaction policy refuses."""
    reject = {"@context": AS_NS, "id": f"{actor.id}#rejects/{n}", "type": "Reject", "actor": actor.id,
              "object": object_id, "to": []}
    if target:
        reject["target"] = target
    return reject


async def closed_reason(node, document_id: int) -> str | None:
    async with node.node.sessions() as session:
        return (await db.get_document(session, document_id)).closed_reason


async def processed(node, activity_id: str):
    from node.db import queries

    async def done():
        async with node.node.sessions() as session:
            row = await queries.get_activity(session, activity_id)
        return row is not None and row.status != "received" and row
    return await wait_for(done, what=f"{activity_id} to be applied")


async def test_a_reject_of_our_reply_closes_the_discussion_at_the_source(world, http):
    node, remote, bob, status, document_id, reply = world
    reject = reject_of(bob, reply.ap_id, status["id"])
    code, body = await signed_post(http, node.url("/actors/alice/inbox"), reject, bob)
    assert code == 202, body
    await processed(node, reject["id"])
    assert await closed_reason(node, document_id) == "the source refused a reply"
    async with http.get(node.url(f"/discussions/{document_id}"), headers={"Accept": "text/html"}) as response:
        html = await response.text()
    assert "Comments are closed at the source" in html and "the source refused a reply" in html
    async with http.get(node.url("/discussions.json"), params={"url": status["id"]}) as response:
        assert (await response.json())["discussion"]["closed_at_source"] is True


async def test_a_reject_naming_the_create_counts_too(world, http):
    node, remote, bob, status, document_id, reply = world
    create = (await sent_by(node, node.url("/actors/alice"), "Create"))[-1]
    reject = reject_of(bob, create.ap_id)
    code, _ = await signed_post(http, node.url("/inbox"), reject, bob)
    assert code == 202
    await processed(node, reject["id"])
    assert await closed_reason(node, document_id) == "the source refused a reply"


async def test_a_reject_from_another_server_changes_nothing(world, http):
    """Only the thread's own server can close it: mallory, elsewhere, rejecting our reply is ignored."""
    node, remote, bob, status, document_id, reply = world
    async with fake_remote() as elsewhere:
        mallory = elsewhere.add_actor("mallory", key_index=1)
        reject = reject_of(mallory, reply.ap_id, status["id"])
        code, _ = await signed_post(http, node.url("/inbox"), reject, mallory)
        assert code == 202
        row = await processed(node, reject["id"])
    assert row.status == "ignored"
    assert await closed_reason(node, document_id) is None
