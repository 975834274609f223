"""Moderation against a real Fedify 2.3.6 peer: its first reply is held, then approved and announced to it.

The node runs with the shipped moderation defaults (a never-approved actor's first
comment waits). The peer follows the site Group, replies to an article, and what
it reports as received was verified by Fedify's own signature checks.
"""

from __future__ import annotations

import asyncio

import pytest

from node.content import Draft
from node.db import moderation as db
from node.db import queries
from node.moderation import actions
from node.services.publish import publish_article
from tests.interop.fednode_support import follow_site, peer_view
from tests.support import POLICY_DEFAULTS, make_settings, running_node

pytestmark = pytest.mark.interop


async def test_fedify_peers_first_reply_is_held_then_approved_and_announced(tmp_path, fedify_peer):
    async with running_node(make_settings(tmp_path, **POLICY_DEFAULTS)) as node:
        await follow_site(fedify_peer, node)
        async with node.node.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            await publish_article(session, node.settings, Draft("Moderated", "moderated", "Say something."), author)
        article = node.url("/articles/moderated")

        reply = await fedify_peer.reply(article, "<p>My first words here</p>")
        assert reply["ok"] is True, await peer_view(fedify_peer)
        await node.node.processor.drain()
        async with node.node.sessions() as session:
            held = await queries.get_object(session, reply["note_id"])
            queue = await db.list_comments_in_state(session, "held")
        assert held is not None and held.moderation == "held"
        assert [c.ap_id for c in queue] == [reply["note_id"]]
        await asyncio.sleep(1)  # give a wrongly queued Announce time to arrive
        assert [a for a in await fedify_peer.received() if a["type"] == "Announce"] == []

        async with node.node.sessions.begin() as session:
            comment = await actions.find_comment(session, reply["note_id"])
            await actions.approve(node.node, session, comment, moderator="mia")
        node.node.wake_delivery()
        announce = await fedify_peer.wait_for_received(type="Announce", actor=node.url("/actors/forum"), timeout=15)
        assert announce["body"]["object"]["id"] == reply["activity_id"], announce["body"]
        assert await fedify_peer.rejected() == [], await peer_view(fedify_peer)
