"""Named queries of the reply store path (``node.federation.comments``).

Each reads or writes many rows in one statement, so storing one reply and
storing a run of a hundred cost the same handful of statements.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Actor, Object, PendingReply, Tombstone

OBJECTS = Object.__table__
PENDING = PendingReply.__table__

# The columns the store path reads of a parent or a thread root, as plain rows instead of ORM objects.
POST_COLUMNS = (Object.id, Object.ap_id, Object.kind, Object.root_id, Object.context, Object.is_local,
                Object.deleted_at, Object.actor_id, Object.locked, Object.reply_policy, Object.replies_close_at)


async def posts_by_ap_id(session: AsyncSession, ap_ids: Collection[str]) -> dict[str, Any]:
    """The held posts (articles and comments, deleted ones included) among ``ap_ids``, by ap_id."""
    if not ap_ids:
        return {}
    rows = await session.execute(select(*POST_COLUMNS).where(Object.ap_id.in_(ap_ids)))
    return {row.ap_id: row for row in rows.all()}


async def posts_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Any]:
    """The posts with these row ids, by id."""
    if not ids:
        return {}
    rows = await session.execute(select(*POST_COLUMNS).where(Object.id.in_(ids)))
    return {row.id: row for row in rows.all()}


async def tombstoned(session: AsyncSession, ap_ids: Collection[str]) -> set[str]:
    """Which of ``ap_ids`` were deleted before we ever held them."""
    if not ap_ids:
        return set()
    return set((await session.scalars(select(Tombstone.ap_id).where(Tombstone.ap_id.in_(ap_ids)))).all())


async def is_tombstoned(session: AsyncSession, ap_id: str) -> bool:
    """Whether ``ap_id`` was deleted before we ever held it."""
    return await session.get(Tombstone, ap_id) is not None


async def actor_ids(session: AsyncSession, ap_ids: Collection[str]) -> dict[str, int]:
    """Row ids of the known actors among ``ap_ids``, by ap_id."""
    if not ap_ids:
        return {}
    return dict((await session.execute(select(Actor.ap_id, Actor.id).where(Actor.ap_id.in_(ap_ids)))).all())


async def insert_comments(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert comment rows (``Object`` columns); their new row ids by ap_id.

    Core, not the ORM: one compiled statement for the lot and none of the ORM's per-row
    bookkeeping (SQLAlchemy sends it as multi-row ``INSERT … RETURNING``)."""
    if not rows:
        return {}
    result = await session.execute(insert(OBJECTS).returning(OBJECTS.c.id, OBJECTS.c.ap_id), list(rows))
    return {ap_id: row_id for row_id, ap_id in result.all()}


async def add_reply_counts(session: AsyncSession, added: dict[int, int]) -> None:
    """Add ``added[parent id]`` to each parent's ``replies_count`` (one executemany)."""
    if added:
        await session.execute(
            update(OBJECTS).where(OBJECTS.c.id == bindparam("parent"))
            .values(replies_count=OBJECTS.c.replies_count + bindparam("added")),
            [{"parent": parent, "added": count} for parent, count in added.items()],
        )


async def take_pending(session: AsyncSession, parent_ap_ids: Collection[str], limit: int) -> list[Any]:
    """Remove and return (oldest first, at most ``limit``) the parked replies waiting for these parents."""
    if not parent_ap_ids or limit <= 0:
        return []
    rows = (await session.execute(
        select(PENDING.c.id, PENDING.c.ap_id, PENDING.c.in_reply_to, PENDING.c.actor_ap_id, PENDING.c.raw)
        .where(PENDING.c.in_reply_to.in_(parent_ap_ids)).order_by(PENDING.c.id).limit(limit)
    )).all()
    if rows:
        await session.execute(delete(PENDING).where(PENDING.c.id.in_([row.id for row in rows])))
    return list(rows)


async def park(session: AsyncSession, ap_id: str, in_reply_to: str, actor_ap_id: str, raw: dict[str, Any]) -> None:
    """Keep a reply whose parent could not be had yet, keyed by the parent it waits for (once)."""
    existing = await session.scalar(select(PENDING.c.id).where(PENDING.c.ap_id == ap_id))
    if existing is None:
        await session.execute(insert(PENDING).values(ap_id=ap_id, in_reply_to=in_reply_to,
                                                     actor_ap_id=actor_ap_id, raw=raw))


async def forget_pending_of(session: AsyncSession, actor_ap_id: str) -> None:
    """Drop the parked replies of an actor (it was deleted)."""
    await session.execute(delete(PENDING).where(PENDING.c.actor_ap_id == actor_ap_id))


async def uncount_reply(session: AsyncSession, parent_id: int) -> None:
    """Take one reply off the parent's ``replies_count`` (never below zero)."""
    await session.execute(update(OBJECTS).where(OBJECTS.c.id == parent_id, OBJECTS.c.replies_count > 0)
                          .values(replies_count=OBJECTS.c.replies_count - 1))


async def live_posts_of(session: AsyncSession, actor_id: int) -> Sequence[Object]:
    """The actor's posts that are not deleted."""
    return (await session.scalars(select(Object).where(Object.actor_id == actor_id, Object.deleted_at.is_(None)))).all()
