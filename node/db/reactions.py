"""Named queries of reactions (likes and boosts) and the counters they keep on posts."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Object, Reaction

COUNTERS = {"like": Object.likes_count, "announce": Object.announces_count}


async def reaction_of(session: AsyncSession, kind: str, actor_id: int, object_id: int) -> Reaction | None:
    """The actor's reaction of this kind to this post, if any."""
    return await session.scalar(select(Reaction).where(
        Reaction.kind == kind, Reaction.actor_id == actor_id, Reaction.object_id == object_id))


async def reaction_by_ap_id(session: AsyncSession, ap_id: str) -> Reaction | None:
    """The reaction whose activity has this id."""
    return await session.scalar(select(Reaction).where(Reaction.ap_id == ap_id))


async def count_reaction(session: AsyncSession, kind: str, object_id: int, delta: int) -> None:
    """Add ``delta`` (+1 or -1) to the post's counter of ``kind``; a counter never goes below zero."""
    column = COUNTERS[kind]
    query = update(Object).where(Object.id == object_id)
    if delta < 0:
        query = query.where(column >= -delta)
    await session.execute(query.values({column: column + delta}))
