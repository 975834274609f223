"""Helpers for tests of sites we follow: our Follow accepted by the remote actor (or by another running node),
deliveries and their outcome.

The node follows a remote actor over real HTTP; the fake server's actor answers with a signed
Accept, as Mastodon and the WordPress ActivityPub plugin do.  ``deliver`` returns what the inbox
recorded for an activity ("applied", or "ignored: why"), so a test can say why one was dropped.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from node.db.models import Activity, Follow
from node.federation.vocab import AS_NS
from node.services import following
from tests.fakes.remote import signed_post
from tests.support import wait_for


async def outcome(node, activity_id: str) -> str:
    """The recorded outcome of a received activity ("applied", or "ignored: why")."""
    await node.node.processor.drain()
    async with node.node.sessions() as session:
        row = await session.scalar(select(Activity).where(Activity.ap_id == activity_id))
    return row.error or row.status


async def deliver(node, http, actor, activity: dict) -> str:
    status, body = await signed_post(http, node.url("/inbox"), activity, actor)
    assert status == 202, body
    return await outcome(node, activity["id"])


async def follow_accepted(node, http, remote, actor) -> None:
    """Our site follows ``actor`` (by id) and the remote server accepts, signed by the actor."""
    await following.follow(node.node, actor.id)
    node.node.wake_delivery()
    sent = (await wait_for(lambda: [json.loads(r["body"]) for r in remote.received
                                    if json.loads(r["body"])["type"] == "Follow"]))[-1]
    accept = {"@context": AS_NS, "id": f"{actor.id}#accepts/follows/{sent['id'][-8:]}", "type": "Accept",
              "actor": actor.id, "object": sent}
    assert await deliver(node, http, actor, accept) == "applied"


async def site_follows_site(follower, followed, timeout: float = 15.0) -> None:
    """The site (Group) of the running node ``follower`` follows ``followed``'s; returns once it is accepted."""
    follow = await following.follow(follower.node, followed.url("/actors/forum"))
    follower.node.wake_delivery()

    async def accepted():
        async with follower.node.sessions() as session:
            row = await session.scalar(select(Follow).where(Follow.ap_id == follow.ap_id))
            return row is not None and row.state == "accepted"

    await wait_for(accepted, timeout, what=f"{follower.base} following {followed.base}")
