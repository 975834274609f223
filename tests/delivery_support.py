"""Helpers for tests of delivery: remote followers stored as accepted, each with an inbox of its own.

A follower without a shared inbox gets a delivery row of its own, so tests of retries, the
circuit breaker and claims across processes can count rows per actor and per host.
"""

from __future__ import annotations

from node.db import queries
from node.db.models import Follow
from node.federation.actors import actor_values_from_ap
from tests.fakes.remote import RemoteActor


def own_inbox_actor(remote, username: str, *, host: str = "127.0.0.1") -> RemoteActor:
    """A remote actor without a shared inbox (so each gets its own delivery row), reached via ``host``."""
    actor = remote.add_actor(username, endpoints={})
    if host != "127.0.0.1":
        # "localhost" reaches the same fake, but counts as another host for per-host rules.
        actor.document["inbox"] = actor.inbox.replace("127.0.0.1", host)
    return actor


async def add_followers(node, *actors: RemoteActor) -> None:
    """Store ``actors`` as accepted followers of the site Group (as if each had followed and been accepted)."""
    async with node.sessions.begin() as session:
        site = await queries.get_local_actor(session, node.settings.site_username)
        for actor in actors:
            row = await queries.upsert_remote_actor(session, actor_values_from_ap(actor.document))
            session.add(Follow(follower_id=row.id, followed_id=site.id, state="accepted", ap_id=f"{actor.id}#follow"))
