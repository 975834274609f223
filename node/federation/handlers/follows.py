"""Follows in both directions: Follow, Undo(Follow), Accept and Reject."""

from __future__ import annotations

from typing import Any


from node.db import follows, queries
from node.federation.outcomes import Outcome
from node.db.models import Actor, Follow
from node.db.states import FollowState
from node.federation import outbox
from node.federation.handlers import HandlerContext, handles, object_id
from node.federation.handlers.rejects import reply_rejected
from node.federation.vocab import get_id

FOLLOWABLE_TYPES = frozenset({"Group", "Person"})


def follow_document(follow_id: str, follower: str, followed: str) -> dict[str, Any]:
    """A Follow activity as it is embedded in Accept, Reject and Undo."""
    return {"id": follow_id, "type": "Follow", "actor": follower, "object": followed}


def answer_document(kind: str, local: Actor, follow: dict[str, Any], urls) -> dict[str, Any]:
    """An Accept or Reject of a remote Follow, embedding it as Mastodon expects."""
    return {
        "id": outbox.new_activity_id(urls),
        "type": kind,
        "actor": local.ap_id,
        "object": follow,
        "to": [follow["actor"]],
    }


async def get_follow(session, follower: Actor, followed: Actor) -> Follow | None:
    """The follow between these two actors, if any."""
    return await follows.follow_between(session, follower.id, followed.id)


async def send_answer(ctx_node, session, kind: str, local: Actor, follower: Actor, follow_id: str) -> None:
    """Queue an Accept or Reject of ``follow_id`` to the follower."""
    follow = follow_document(follow_id, follower.ap_id, local.ap_id)
    document = answer_document(kind, local, follow, ctx_node.urls)
    await outbox.deliver_to_actor(session, document, signer=local.username, actor=follower)


@handles("Follow")
async def on_follow(ctx: HandlerContext) -> Outcome:
    """A remote actor follows the site or an author: record it and Accept (or wait for approval)."""
    session = ctx.session
    local = await queries.get_actor(session, object_id(ctx.activity) or "")
    if local is None or not local.is_local or local.ap_type not in FOLLOWABLE_TYPES or local.deleted_at is not None:
        return Outcome.ignored("not an actor of ours that can be followed")
    follower = await queries.get_actor(session, ctx.actor_id)
    if follower is None or follower.is_local:
        return Outcome.ignored("unknown follower")
    follow = await get_follow(session, follower, local)
    if follow is None:
        state = FollowState.PENDING if ctx.node.settings.manual_approval else FollowState.ACCEPTED
        follow = Follow(follower_id=follower.id, followed_id=local.id, state=state)
        session.add(follow)
    elif follow.state == FollowState.REJECTED:
        follow.state = FollowState.PENDING if ctx.node.settings.manual_approval else FollowState.ACCEPTED
    # The newest Follow id is the one the follower waits to see accepted.
    follow.ap_id = ctx.row.ap_id
    await session.flush()
    if follow.state == FollowState.ACCEPTED:
        await send_answer(ctx.node, session, "Accept", local, follower, ctx.row.ap_id)
    return Outcome.applied()


@handles("Undo", "Follow")
async def on_undo_follow(ctx: HandlerContext) -> Outcome:
    """The follower stops following: forget the follow."""
    session = ctx.session
    inner = ctx.activity.get("object")
    follow = await follows.follow_by_ap_id(session, object_id(ctx.activity) or "")
    if follow is None and isinstance(inner, dict):
        follower = await queries.get_actor(session, ctx.actor_id)
        followed = await queries.get_actor(session, get_id(inner.get("object")) or "")
        if follower is not None and followed is not None:
            follow = await get_follow(session, follower, followed)
    if follow is None or follow.follower.ap_id != ctx.actor_id:
        return Outcome.ignored("no such follow by this actor")
    await session.delete(follow)
    return Outcome.applied()


async def _our_follow(ctx: HandlerContext) -> Follow | None:
    """The follow of ours that an Accept/Reject from ``ctx.actor_id`` answers."""
    session = ctx.session
    follow = await follows.follow_by_ap_id(session, object_id(ctx.activity) or "")
    if follow is None:
        # Some servers answer with a Follow id of their own making: match by the pair.
        remote = await queries.get_actor(session, ctx.actor_id)
        site = await queries.get_local_actor(session, ctx.node.settings.site_username)
        if remote is not None and site is not None:
            follow = await get_follow(session, site, remote)
    if follow is None or not follow.follower.is_local or follow.followed.ap_id != ctx.actor_id:
        return None
    return follow


@handles("Accept")
async def on_accept(ctx: HandlerContext) -> Outcome:
    """A server we asked to follow accepted."""
    follow = await _our_follow(ctx)
    if follow is None:
        return Outcome.ignored("accepts nothing we asked for")
    follow.state = FollowState.ACCEPTED
    return Outcome.applied()


@handles("Reject")
async def on_reject(ctx: HandlerContext) -> Outcome:
    """A server we asked to follow refused (or removed us as a follower); or it refused a member's reply."""
    follow = await _our_follow(ctx)
    if follow is None:
        return await reply_rejected(ctx)
    follow.state = FollowState.REJECTED
    return Outcome.applied()
