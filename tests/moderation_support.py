"""Helpers for tests of moderation: an article whose Group has a follower, replies posted, a held reply.

The follower (``fan``) is an actor of a fake server that records what the node delivers to it
(Announce, Undo, Delete, Reject), so a test sees a decision reach the fediverse; the repliers
(``alice``, ``bob``) post Mastodon-shaped replies signed with their own keys.
"""

from __future__ import annotations

import aiohttp

from tests.fakes.remote import signed_post
from tests.members_fed_support import follow_group
from tests.threads_support import comment, create, note, publish_topic


async def set_up_forum(node, remote):
    """An article, a follower of the Group (fan) and two repliers (alice, bob) on the fake server."""
    await publish_topic(node)
    actors = {name: remote.add_actor(name, key_index=i) for i, name in enumerate(("fan", "alice", "bob"))}
    async with aiohttp.ClientSession() as http:
        await follow_group(http, node, remote, actors["fan"], inbox="/actors/forum/inbox")
    return actors, node.url("/articles/topic")


async def post(node, http, actor, activity) -> tuple[int, dict]:
    """POST a signed activity to the shared inbox; once the processor is idle, the inbox's answer."""
    status, body = await signed_post(http, node.url("/inbox"), activity, actor)
    await node.node.processor.drain()
    return status, body


async def held_reply(node, http, actor, article, text: str) -> dict:
    """``actor``'s reply to ``article``, posted and held for review (asserted); its Create."""
    reply = create(actor, note(actor, article, f"<p>{text}</p>"))
    status, _ = await post(node, http, actor, reply)
    assert status == 202
    assert (await comment(node, reply["object"]["id"])).moderation == "held"
    return reply
