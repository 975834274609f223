"""Named queries for the actor documents we told followers about (``federation.actor_updates``)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Actor


async def claim_document_hash(session: AsyncSession, actor_id: int, seen: str | None, new: str) -> bool:
    """Record ``new`` as the actor's last sent document hash if it still is ``seen``; whether it was.

    A compare-and-set: when several processes start at once (``serve --workers``), only
    the one whose update lands sends the actor's ``Update``.
    """
    current = Actor.sent_document_hash.is_(None) if seen is None else Actor.sent_document_hash == seen
    result = await session.execute(
        update(Actor).where(Actor.id == actor_id, current).values(sent_document_hash=new)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
