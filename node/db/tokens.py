"""Named queries of members' API tokens (``ApiToken``): make, find by hash, list, touch, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import ApiToken, Member


async def add_token(session: AsyncSession, *, member_id: int, name: str, token_hash: str, scopes: str,
                    now: datetime) -> ApiToken:
    row = ApiToken(member_id=member_id, name=name, token_hash=token_hash, scopes=scopes, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def token_with_member(session: AsyncSession, token_hash: str) -> tuple[ApiToken, Member] | None:
    """The token with this hash and its member, or None."""
    query = select(ApiToken, Member).join(Member, Member.id == ApiToken.member_id).where(
        ApiToken.token_hash == token_hash)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def touch_token(session: AsyncSession, token_id: int, now: datetime, *, unless_since: datetime) -> None:
    """Record a use, unless one was recorded since ``unless_since`` (at most one write a minute a token)."""
    await session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < unless_since),
    ).values(last_used_at=now))


async def list_tokens(session: AsyncSession, member_id: int) -> Sequence[ApiToken]:
    """A member's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.member_id == member_id).order_by(ApiToken.id.desc())
    return (await session.scalars(query)).all()


async def count_tokens(session: AsyncSession, member_id: int) -> int:
    return len(await list_tokens(session, member_id))


async def delete_token(session: AsyncSession, member_id: int, token_id: int) -> bool:
    """Revoke one of the member's tokens; False when they have no such token."""
    result = await session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.member_id == member_id))
    return (result.rowcount or 0) > 0
