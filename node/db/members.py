"""The named queries of members: accounts, sessions, invites, e-mail links and sign-in throttles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Integer, String, bindparam, case, column, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from node.db.models import Actor, Invite, LoginThrottle, Member, MemberSession, MemberToken
from node.db.types import UTCDateTime

# --- accounts -----------------------------------------------------------------------------------


async def get_member(session: AsyncSession, member_id: int) -> Member | None:
    """A member by id, with its actor."""
    return await session.get(Member, member_id)


async def get_member_by_username(session: AsyncSession, username: str) -> Member | None:
    """A member by username (stored lowercase; pass it normalised)."""
    return await session.scalar(select(Member).where(Member.username == username.lower()))


async def get_member_by_actor(session: AsyncSession, actor_id: int) -> Member | None:
    """The member whose local Person actor is ``actor_id``."""
    return await session.scalar(select(Member).where(Member.actor_id == actor_id))


async def get_member_by_login(session: AsyncSession, login: str) -> Member | None:
    """The member a sign-in names: by username or by e-mail address (both compared lowercase)."""
    key = login.strip().removeprefix("@").lower()
    if not key:
        return None
    return await session.scalar(select(Member).where(or_(Member.username == key, Member.email_key == key)).limit(1))


async def name_taken(session: AsyncSession, username: str) -> bool:
    """Whether an account or any local actor (the site Group, an author) already has this name, in any case."""
    if await session.scalar(select(Member.id).where(Member.username == username.lower()).limit(1)) is not None:
        return True
    query = select(Actor.id).where(Actor.is_local.is_(True), func.lower(Actor.username) == username.lower())
    return await session.scalar(query.limit(1)) is not None


async def email_taken(session: AsyncSession, email_key: str) -> bool:
    """Whether another account has this e-mail address (lowercase)."""
    return await session.scalar(select(Member.id).where(Member.email_key == email_key).limit(1)) is not None


async def count_members(session: AsyncSession, status: str | None = None) -> int:
    """How many accounts there are (in ``status``, if given)."""
    query = select(func.count(Member.id))
    if status is not None:
        query = query.where(Member.status == status)
    return int(await session.scalar(query) or 0)


async def list_members(session: AsyncSession, *, status: str | None = None, limit: int = 100,
                       offset: int = 0) -> Sequence[Member]:
    """Accounts, newest first (in ``status``, if given): for the admin pages."""
    query = select(Member).order_by(Member.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Member.status == status)
    return (await session.scalars(query)).all()


# --- sessions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    """What a request needs of its session and member: read on every signed-in request, so kept to columns."""

    session_id: int
    csrf: str
    last_seen_at: datetime
    member_id: int
    actor_id: int
    username: str
    role: str
    status: str
    actor_ap_id: str
    actor_name: str | None
    unread: int = 0  # the member's unread notifications (node.db.notifications), for the header
    follows: str = ""  # a stamp of the threads they follow: changes whenever they follow or unfollow one


# Written out: it runs on every request of a signed-in member, and loading three ORM entities (or
# building and keying the statement) costs more than the indexed read itself (bench/member_page.py).
_SESSION_VIEW = text("""
    SELECT s.id, s.csrf, s.last_seen_at, m.id, m.actor_id, m.username, m.role, m.status, a.ap_id, a.name,
           (SELECT count(*) FROM notifications n WHERE n.recipient_id = m.actor_id AND n.read_at IS NULL),
           (SELECT CAST(count(*) AS TEXT) || ':' || coalesce(CAST(max(f.created_at) AS TEXT), '')
              FROM thread_follows f WHERE f.actor_id = m.actor_id)
      FROM member_sessions s JOIN members m ON m.id = s.member_id JOIN actors a ON a.id = m.actor_id
     WHERE s.token_hash = :token_hash AND s.expires_at > :now
""").bindparams(bindparam("now", type_=UTCDateTime())).columns(
    column("id", Integer), column("csrf", String), column("last_seen_at", UTCDateTime()), column("member_id", Integer),
    column("actor_id", Integer), column("username", String), column("role", String), column("status", String),
    column("ap_id", String), column("name", String), column("unread", Integer), column("follows", String))


async def session_view_by_token_hash(bind: AsyncSession | AsyncConnection, token_hash: str,
                                     now: datetime) -> SessionView | None:
    """The unexpired session with this token hash, with what a request needs of its member and actor.

    ``bind`` may be a plain connection: the read needs no ORM session around it.
    """
    row = (await bind.execute(_SESSION_VIEW, {"token_hash": token_hash, "now": now})).first()
    return SessionView(*row) if row is not None else None


async def session_by_token_hash(session: AsyncSession, token_hash: str,
                                now: datetime) -> tuple[MemberSession, Member] | None:
    """The unexpired session with this token hash and its member (with the actor), if any."""
    query = (select(MemberSession, Member).join(Member, Member.id == MemberSession.member_id)
             .where(MemberSession.token_hash == token_hash, MemberSession.expires_at > now))
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def touch_session(session: AsyncSession, session_id: int, now: datetime, expires_at: datetime) -> None:
    """Record that a session was used and move its expiry (sliding expiry)."""
    await session.execute(update(MemberSession).where(MemberSession.id == session_id)
                          .values(last_seen_at=now, expires_at=expires_at))


async def delete_session(session: AsyncSession, session_id: int) -> None:
    """End one session (sign out)."""
    await session.execute(delete(MemberSession).where(MemberSession.id == session_id))


async def delete_session_by_token_hash(session: AsyncSession, token_hash: str) -> None:
    """End the session whose cookie token hashes to ``token_hash`` (a cookie replaced at sign-in)."""
    await session.execute(delete(MemberSession).where(MemberSession.token_hash == token_hash))


async def delete_member_sessions(session: AsyncSession, member_id: int, *, keep: int | None = None) -> int:
    """End every session of a member (but ``keep``); returns how many ended."""
    query = delete(MemberSession).where(MemberSession.member_id == member_id)
    if keep is not None:
        query = query.where(MemberSession.id != keep)
    return (await session.execute(query)).rowcount or 0


async def list_member_sessions(session: AsyncSession, member_id: int, now: datetime) -> Sequence[MemberSession]:
    """A member's unexpired sessions, most recently used first."""
    query = (select(MemberSession).where(MemberSession.member_id == member_id, MemberSession.expires_at > now)
             .order_by(MemberSession.last_seen_at.desc()))
    return (await session.scalars(query)).all()


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> int:
    """Forget sessions past their expiry; returns how many."""
    return (await session.execute(delete(MemberSession).where(MemberSession.expires_at <= now))).rowcount or 0


# --- invites ------------------------------------------------------------------------------------


async def invite_by_code_hash(session: AsyncSession, code_hash: str) -> Invite | None:
    """The invite whose link code hashes to ``code_hash``."""
    return await session.scalar(select(Invite).where(Invite.code_hash == code_hash))


async def use_invite(session: AsyncSession, invite_id: int, member_id: int, now: datetime) -> bool:
    """Mark an unused, unexpired invite used by ``member_id``; False when it was used or expired meanwhile."""
    result = await session.execute(
        update(Invite).where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=member_id))
    return result.rowcount == 1


# --- e-mail links -------------------------------------------------------------------------------


async def token_by_hash(session: AsyncSession, purpose: str, token_hash: str) -> MemberToken | None:
    """The e-mail link of ``purpose`` whose token hashes to ``token_hash``."""
    return await session.scalar(select(MemberToken).where(MemberToken.purpose == purpose,
                                                          MemberToken.token_hash == token_hash))


async def use_token(session: AsyncSession, token_id: int, now: datetime) -> bool:
    """Mark an unused, unexpired link used; False when it was used or expired meanwhile."""
    result = await session.execute(
        update(MemberToken).where(MemberToken.id == token_id, MemberToken.used_at.is_(None),
                                  MemberToken.expires_at > now).values(used_at=now))
    return result.rowcount == 1


async def expire_member_tokens(session: AsyncSession, member_id: int, purpose: str, now: datetime) -> None:
    """Void a member's unused links of ``purpose`` (a newer one replaces them, or the password changed)."""
    await session.execute(update(MemberToken).where(MemberToken.member_id == member_id,
                                                    MemberToken.purpose == purpose,
                                                    MemberToken.used_at.is_(None)).values(used_at=now))


# --- sign-in throttles --------------------------------------------------------------------------


async def throttles(session: AsyncSession, keys: Sequence[str]) -> Sequence[LoginThrottle]:
    """The throttle rows of ``keys`` that exist."""
    return (await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys))))).all()


async def clear_throttle(session: AsyncSession, key: str) -> None:
    """Forget the failures of ``key`` (a successful sign-in)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def forget_old_throttles(session: AsyncSession, before: datetime) -> int:
    """Forget throttles whose last failure is older than ``before``."""
    return (await session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < before))).rowcount or 0


async def record_failure(session: AsyncSession, key: str, now: datetime, forget_before: datetime) -> int:
    """Count one more failed sign-in for ``key`` (starting again from 1 when the last one is older than
    ``forget_before``); returns the count.  One statement, so processes counting at once add up."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={"failures": case((LoginThrottle.last_failure_at < forget_before, 1), else_=LoginThrottle.failures + 1),
              "last_failure_at": now},
    ).returning(LoginThrottle.failures)
    return int((await session.execute(statement)).scalar_one())


async def block_until(session: AsyncSession, key: str, until: datetime) -> None:
    """Refuse sign-ins of ``key`` until ``until`` (never shortening a longer block)."""
    await session.execute(update(LoginThrottle).where(LoginThrottle.key == key,
                                                      or_(LoginThrottle.blocked_until.is_(None),
                                                          LoginThrottle.blocked_until < until))
                          .values(blocked_until=until))


async def newest_token_at(session: AsyncSession, member_id: int, purpose: str) -> datetime | None:
    """When the member's newest link of ``purpose`` was made."""
    return await session.scalar(select(func.max(MemberToken.created_at))
                                .where(MemberToken.member_id == member_id, MemberToken.purpose == purpose))
