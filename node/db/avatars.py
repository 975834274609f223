"""Members' avatars, kept in the database (``Avatar``): store, replace, read, remove."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Avatar


async def get_avatar(session: AsyncSession, actor_id: int) -> Avatar | None:
    """A member's avatar with its bytes, or None."""
    return await session.get(Avatar, actor_id)


async def get_avatar_digests(session: AsyncSession, actor_ids: list[int]) -> dict[int, str]:
    """The digest (the part of the URL that changes with the picture) of each of these actors' avatars."""
    if not actor_ids:
        return {}
    rows = await session.execute(select(Avatar.actor_id, Avatar.digest).where(Avatar.actor_id.in_(actor_ids)))
    return dict(rows.all())


async def set_avatar(session: AsyncSession, actor_id: int, *, data: bytes, media_type: str, digest: str,
                     width: int, height: int) -> None:
    """Store a member's avatar, replacing the one they had."""
    row = await session.get(Avatar, actor_id)
    if row is None:
        session.add(Avatar(actor_id=actor_id, data=data, media_type=media_type, digest=digest, width=width,
                           height=height))
    else:
        row.data, row.media_type, row.digest, row.width, row.height = data, media_type, digest, width, height
    await session.flush()


async def remove_avatar(session: AsyncSession, actor_id: int) -> bool:
    """Forget a member's avatar; False when they had none."""
    return bool((await session.execute(delete(Avatar).where(Avatar.actor_id == actor_id))).rowcount)
