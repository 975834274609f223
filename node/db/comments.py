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
from node.db.prepared import Prepared

OBJECTS = Object.__table__
PENDING = PendingReply.__table__
TOMBSTONES = Tombstone.__table__
ACTORS = Actor.__table__

# The columns the store path reads of a parent or a thread root, as plain rows instead of ORM objects.
POST_COLUMNS = tuple(OBJECTS.c[name] for name in (
    "id", "ap_id", "kind", "root_id", "context", "is_local", "deleted_at", "actor_id", "locked", "reply_policy",
    "replies_close_at"))

# The store path runs these for every batch of replies: built once (building a statement and its cache
# key costs more than SQLite takes to run it), on the tables' columns (no ORM compile step, plain rows).
_POSTS_BY_AP_ID = select(*POST_COLUMNS).where(OBJECTS.c.ap_id.in_(bindparam("ap_ids", expanding=True)))
_POSTS_BY_ID = select(*POST_COLUMNS).where(OBJECTS.c.id.in_(bindparam("ids", expanding=True)))
_TOMBSTONED = select(TOMBSTONES.c.ap_id).where(TOMBSTONES.c.ap_id.in_(bindparam("ap_ids", expanding=True)))
_ACTOR_IDS = select(ACTORS.c.ap_id, ACTORS.c.id).where(ACTORS.c.ap_id.in_(bindparam("ap_ids", expanding=True)))
_PENDING = (select(PENDING.c.id, PENDING.c.ap_id, PENDING.c.in_reply_to, PENDING.c.actor_ap_id, PENDING.c.raw)
            .where(PENDING.c.in_reply_to.in_(bindparam("parents", expanding=True))).order_by(PENDING.c.id)
            .limit(bindparam("limit")))
_UNPARK = delete(PENDING).where(PENDING.c.id.in_(bindparam("ids", expanding=True)))
_IDS_BY_AP_ID = select(OBJECTS.c.ap_id, OBJECTS.c.id).where(OBJECTS.c.ap_id.in_(bindparam("ap_ids", expanding=True)))
_INSERT_COMMENTS = Prepared.insert(OBJECTS)
_ADD_REPLY_COUNTS = Prepared(lambda dialect: update(OBJECTS).where(OBJECTS.c.id == bindparam("parent"))
                             .values(replies_count=OBJECTS.c.replies_count + bindparam("added")))


async def posts_by_ap_id(session: AsyncSession, ap_ids: Collection[str]) -> dict[str, Any]:
    """The held posts (articles and comments, deleted ones included) among ``ap_ids``, by ap_id."""
    if not ap_ids:
        return {}
    rows = await session.execute(_POSTS_BY_AP_ID, {"ap_ids": list(ap_ids)})
    return {row.ap_id: row for row in rows.all()}


async def posts_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Any]:
    """The posts with these row ids, by id."""
    if not ids:
        return {}
    rows = await session.execute(_POSTS_BY_ID, {"ids": list(ids)})
    return {row.id: row for row in rows.all()}


async def tombstoned(session: AsyncSession, ap_ids: Collection[str]) -> set[str]:
    """Which of ``ap_ids`` were deleted before we ever held them."""
    if not ap_ids:
        return set()
    return set((await session.execute(_TOMBSTONED, {"ap_ids": list(ap_ids)})).scalars().all())


async def is_tombstoned(session: AsyncSession, ap_id: str) -> bool:
    """Whether ``ap_id`` was deleted before we ever held it."""
    return await session.get(Tombstone, ap_id) is not None


async def actor_ids(session: AsyncSession, ap_ids: Collection[str]) -> dict[str, int]:
    """Row ids of the known actors among ``ap_ids``, by ap_id."""
    if not ap_ids:
        return {}
    return dict((await session.execute(_ACTOR_IDS, {"ap_ids": list(ap_ids)})).all())


async def insert_comments(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert comment rows (``Object`` columns, the same in every row); their new row ids by ap_id.

    One executemany of an insert compiled once (``prepared``: no per-row parameter building by
    SQLAlchemy), then one read of the new ids by ap_id (unique: a row stored meanwhile fails the
    insert, and the caller's transaction with it)."""
    if not rows:
        return {}
    await _INSERT_COMMENTS.executemany(session, rows)
    return dict((await session.execute(_IDS_BY_AP_ID, {"ap_ids": [row["ap_id"] for row in rows]})).all())


async def add_reply_counts(session: AsyncSession, added: dict[int, int]) -> None:
    """Add ``added[parent id]`` to each parent's ``replies_count`` (one executemany)."""
    await _ADD_REPLY_COUNTS.executemany(session, [{"parent": parent, "added": count} for parent, count in added.items()])


async def take_pending(session: AsyncSession, parent_ap_ids: Collection[str], limit: int) -> list[Any]:
    """Remove and return (oldest first, at most ``limit``) the parked replies waiting for these parents."""
    if not parent_ap_ids or limit <= 0:
        return []
    rows = (await session.execute(_PENDING, {"parents": list(parent_ap_ids), "limit": limit})).all()
    if rows:
        await session.execute(_UNPARK, {"ids": [row.id for row in rows]})
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
