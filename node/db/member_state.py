"""What pages show of a member: their marks on a thread (in one statement) and their recent comments.

``thread_state``: the comments of the thread they liked and boosted, and whether they follow
the thread, in one round trip (a UNION ALL of indexed reads).  Pages keep the answer per
member, thread version and follows stamp (``node.web.member_view.StateCache``), since each of
those changes when the answer can.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from node.db.discussion import counted
from node.db.models import Object


@dataclass(frozen=True)
class ThreadState:
    """One member's marks on one thread."""

    liked: frozenset[int] = field(default_factory=frozenset)
    boosted: frozenset[int] = field(default_factory=frozenset)
    following: bool = False


# One round trip, written out: a statement built with the ORM costs more to build and key than
# this one costs to run.
_THREAD_STATE = text("""
    SELECT reactions.kind, reactions.object_id FROM reactions JOIN objects ON objects.id = reactions.object_id
     WHERE reactions.actor_id = :actor AND objects.root_id = :root
    UNION ALL
    SELECT 'follow', 1 FROM thread_follows WHERE actor_id = :actor AND root_id = :root
""")


async def thread_state(session: AsyncSession, actor_id: int, root_id: int) -> ThreadState:
    """``actor_id``'s likes and boosts in the thread of ``root_id``, and whether they follow it."""
    rows = (await session.execute(_THREAD_STATE, {"actor": actor_id, "root": root_id})).all()
    liked, boosted, following = set(), set(), False
    for what, value in rows:
        if what == "like":
            liked.add(value)
        elif what == "announce":
            boosted.add(value)
        elif what == "follow":
            following = True
    return ThreadState(frozenset(liked), frozenset(boosted), following)

async def list_recent_comments(session: AsyncSession, actor_id: int, *, limit: int = 20) -> list[tuple[Object, Object | None]]:
    """A member's newest comments that public pages show (not deleted), each with its thread's root."""
    root = aliased(Object)
    query = (select(Object, root).outerjoin(root, root.id == Object.root_id)
             .where(Object.actor_id == actor_id, Object.kind == "comment", counted())
             .order_by(Object.id.desc()).limit(limit))
    return [tuple(row) for row in (await session.execute(query)).all()]
