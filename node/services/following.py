"""Following, from the operator's side: our site following others, and approving our followers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from node.config import Settings
from node.db import follows, queries
from node.db.models import Actor, Follow
from node.db.states import FollowState
from node.errors import NodeError
from node.federation import outbox
from node.federation.actors import actor_values_from_ap
from node.federation.handlers.follows import follow_document, get_follow, send_answer
from node.federation.lookup import find_actor_document
from node.urls import Urls


class FollowError(NodeError):
    """A follow request cannot be made or answered as asked."""


async def site_actor(session: AsyncSession, settings: Settings) -> Actor:
    """The site's Group actor (it does the following)."""
    site = await queries.get_local_actor(session, settings.site_username)
    if site is None:
        raise FollowError("the site is not set up yet: run `fednode init`")
    return site


async def resolve_remote_actor(node, target: str) -> Actor:
    """Look ``target`` (handle or URL) up and store its actor; returns the row."""
    document = await find_actor_document(node.fetcher, target, allow_http=node.settings.allow_http)
    # Keys are stored only by the key resolver, once a signature made with them verifies.
    values = actor_values_from_ap(document)
    async with node.sessions.begin() as session:
        return await queries.upsert_remote_actor(session, values)


async def follow(node, target: str) -> Follow:
    """Our site follows ``target``: store a pending follow and queue the Follow activity."""
    remote = await resolve_remote_actor(node, target)
    async with node.sessions.begin() as session:
        site = await site_actor(session, node.settings)
        remote = await queries.get_actor(session, remote.ap_id)
        existing = await get_follow(session, site, remote)
        if existing is not None and existing.state == FollowState.ACCEPTED:
            existing.followed = remote  # loaded now: callers read it after the session has closed
            return existing
        follow_id = outbox.new_activity_id(Urls(node.settings.base))
        if existing is None:
            existing = Follow(follower_id=site.id, followed_id=remote.id)
            session.add(existing)
        existing.state = FollowState.PENDING
        existing.ap_id = follow_id
        document = {**follow_document(follow_id, site.ap_id, remote.ap_id), "to": [remote.ap_id]}
        await outbox.deliver_to_actor(session, document, signer=site.username, actor=remote)
        await session.flush()
        existing.followed = remote  # loaded now: callers read it after the session has closed
        return existing


async def unfollow(node, target: str) -> Actor:
    """Our site stops following ``target`` (URL or handle): queue Undo(Follow), forget it."""
    async with node.sessions.begin() as session:
        site = await site_actor(session, node.settings)
        for follow_row in await list_following(session, site):
            remote = follow_row.followed
            if target in (remote.ap_id, remote.handle, "@" + remote.handle):
                undo = {
                    "id": outbox.new_activity_id(Urls(node.settings.base)), "type": "Undo", "actor": site.ap_id,
                    "object": follow_document(follow_row.ap_id or "", site.ap_id, remote.ap_id), "to": [remote.ap_id],
                }
                await outbox.deliver_to_actor(session, undo, signer=site.username, actor=remote)
                await session.delete(follow_row)
                return remote
    raise FollowError(f"the site does not follow {target}")


async def list_following(session: AsyncSession, local: Actor) -> list[Follow]:
    """Whom a local actor follows (any state), oldest first."""
    return list(await follows.follows_by(session, local.id))


async def list_followers(session: AsyncSession, local_ids: list[int], state: str | None = None) -> list[Follow]:
    """Followers of these local actors, optionally only in one state, oldest first."""
    return list(await follows.followers_of(session, local_ids, state or None))


async def answer_follower(node, follow_id: int, accept: bool) -> Follow:
    """Approve (Accept) or refuse (Reject) a pending follower."""
    async with node.sessions.begin() as session:
        follow_row = await session.get(Follow, follow_id)
        if follow_row is None or not follow_row.followed.is_local or follow_row.follower.is_local:
            raise FollowError(f"no follow request {follow_id}; see `fednode followers pending`")
        kind = "Accept" if accept else "Reject"
        await send_answer(node, session, kind, follow_row.followed, follow_row.follower, follow_row.ap_id or "")
        if accept:
            follow_row.state = FollowState.ACCEPTED
        else:
            await session.delete(follow_row)
        return follow_row
