"""Named queries of the site settings admins change on the web (``node.site``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import SiteSetting
from node.db.types import utcnow


async def load(session: AsyncSession) -> dict[str, Any]:
    """Every stored setting, key → value."""
    return {row.key: row.value for row in (await session.scalars(select(SiteSetting))).all()}


async def put(session: AsyncSession, key: str, value: Any, *, by: str | None) -> None:
    """Store ``value`` under ``key`` (replacing what was there)."""
    row = await session.get(SiteSetting, key)
    if row is None:
        session.add(SiteSetting(key=key, value=value, updated_by=by, updated_at=utcnow()))
    else:
        row.value, row.updated_by, row.updated_at = value, by, utcnow()
    await session.flush()


async def drop(session: AsyncSession, key: str) -> None:
    """Forget ``key``: the configuration's value applies again."""
    await session.execute(delete(SiteSetting).where(SiteSetting.key == key))
