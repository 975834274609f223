"""Named queries of follows: the handlers' look-ups and the operator's lists.

Follows are created, changed and deleted through the ORM (``Follow`` rows check
their state moves, ``node.db.states``); what is read is read here.
"""

from __future__ import annotations

from typing import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Actor, Follow
from node.db.states import FollowState


async def follow_between(session: AsyncSession, follower_id: int, followed_id: int) -> Follow | None:
    """The follow of ``followed_id`` by ``follower_id``, if any."""
    return await session.scalar(select(Follow).where(Follow.follower_id == follower_id,
                                                     Follow.followed_id == followed_id))


async def follow_by_ap_id(session: AsyncSession, ap_id: str) -> Follow | None:
    """The follow whose ``Follow`` activity has this id."""
    return await session.scalar(select(Follow).where(Follow.ap_id == ap_id))


async def has_accepted_follower(session: AsyncSession, followed_id: int) -> bool:
    """Whether anyone's follow of this actor is accepted."""
    found = await session.scalar(select(Follow.id).where(Follow.followed_id == followed_id,
                                                         Follow.state == FollowState.ACCEPTED).limit(1))
    return found is not None


async def accepted_follow_of_any(session: AsyncSession, followed_ap_ids: Collection[str]) -> Follow | None:
    """An accepted follow of any of these actors (by ap_id), if one exists."""
    return await session.scalar(
        select(Follow).join(Actor, Actor.id == Follow.followed_id)
        .where(Follow.state == FollowState.ACCEPTED, Actor.ap_id.in_(list(followed_ap_ids))).limit(1))


async def follows_by(session: AsyncSession, follower_id: int) -> Sequence[Follow]:
    """Every follow ``follower_id`` made, oldest first."""
    return (await session.scalars(select(Follow).where(Follow.follower_id == follower_id).order_by(Follow.id))).all()


async def followers_of(session: AsyncSession, followed_ids: Collection[int], state: str | None = None) -> Sequence[Follow]:
    """The follows of these actors (in ``state`` if given), oldest first."""
    query = select(Follow).where(Follow.followed_id.in_(list(followed_ids))).order_by(Follow.id)
    if state is not None:
        query = query.where(Follow.state == state)
    return (await session.scalars(query)).all()
