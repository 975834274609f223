"""Following us: a signed Follow gets a signed Accept, and articles then reach the follower."""

from __future__ import annotations

import json

from sqlalchemy import select

from node.content import Draft
from node.db import queries
from node.db.models import Follow
from node.services.publish import publish_article
from tests.factories import follow_of
from tests.fakes.remote import fake_remote, signed_post
from tests.support import wait_for


async def test_follow_of_the_site_gets_a_verifiable_accept(node, http):
    """Following the Group answers 202, then an Accept embedding the Follow reaches the follower's inbox."""
    async with fake_remote() as remote:
        remote.verify_posts = True
        alice = remote.add_actor("alice")
        status, _ = await signed_post(http, node.url("/actors/forum/inbox"), follow_of(alice, node.url("/actors/forum")), alice)
        assert status == 202
        received = await wait_for(lambda: remote.received)
        accept = json.loads(received[0]["body"])
        assert accept["type"] == "Accept"
        assert accept["actor"] == node.url("/actors/forum")
        assert accept["object"]["id"] == f"{alice.id}#follows/1"
        assert remote.verified_signers == [node.url("/actors/forum#main-key")]
        async with node.node.sessions() as session:
            row = await session.scalar(select(Follow))
        assert row.state == "accepted"


async def test_published_article_reaches_followers_once_per_shared_inbox(node, http):
    """Two followers on one server share an inbox: one Create(Article) request reaches it."""
    async with fake_remote() as remote:
        alice, bob = remote.add_actor("alice"), remote.add_actor("bob", key_index=1)
        for n, actor in enumerate((alice, bob)):
            await signed_post(http, node.url("/inbox"), follow_of(actor, node.url("/actors/forum"), n), actor)
        await wait_for(lambda: len(remote.received) == 2)
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            published = await publish_article(session, node.settings, Draft("Hello", "hello", "Text."), author)
        assert published.deliveries == 1
        node.node.wake_delivery()
        creates = await wait_for(lambda: [r for r in remote.received if json.loads(r["body"])["type"] == "Create"])
        assert creates[0]["path"] == "/inbox"
        assert json.loads(creates[0]["body"])["object"]["id"] == node.url("/articles/hello")
