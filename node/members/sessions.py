"""Server-side sessions: the browser's cookie holds a random token, the database only its SHA-256.

A stolen database therefore holds no usable cookie.  Sessions expire ``session_days`` after
their last use (sliding), and the last use is written at most every ``TOUCH_EVERY``, so a
signed-in reader's page views are reads, not writes.  Every session row carries its own CSRF
token (``node.web.csrf``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from node.db import members as db
from node.db.models import MemberSession
from node.db.types import utcnow
from node.members.roles import MemberStatus

if TYPE_CHECKING:
    from node.app import Node

TOKEN_BYTES = 32
TOUCH_EVERY = timedelta(hours=1)
MAX_TOKEN = 100  # characters of a cookie value worth hashing


def new_token() -> str:
    """A fresh, unguessable token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database keeps of a token: hex SHA-256 (the token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenSession:
    """A session found for a request's cookie."""

    id: int
    csrf: str
    member: db.SessionView  # the member's columns a request needs (not the ORM row: read on every request)


async def open_session(node: "Node", member_id: int, *, user_agent: str | None = None) -> str:
    """Start a session for a member; return the token for the cookie (only its hash is stored)."""
    token = new_token()
    now = utcnow()
    async with node.sessions.begin() as session:
        # Sessions nobody used for session_days are dead; forget them here (one indexed delete
        # per sign-in) rather than in a background job of their own.
        await db.delete_expired_sessions(session, now)
        session.add(MemberSession(
            member_id=member_id, token_hash=token_hash(token), csrf=new_token(), created_at=now,
            last_seen_at=now, expires_at=now + timedelta(days=node.settings.session_days),
            user_agent=(user_agent or "")[:200] or None,
        ))
    return token


async def find_session(node: "Node", token: str) -> OpenSession | None:
    """The live session of an active member this cookie token opens, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    now = utcnow()
    async with node.engine.connect() as connection:  # a plain read: no ORM session to set up and tear down
        found = await db.session_view_by_token_hash(connection, token_hash(token), now)
    if found is None or found.status != MemberStatus.ACTIVE:
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        async with node.sessions.begin() as session:
            await db.touch_session(session, found.session_id, now, now + timedelta(days=node.settings.session_days))
    return OpenSession(found.session_id, found.csrf, found)


async def end_session(node: "Node", token: str) -> None:
    """End the session this token opens (if any): signing out, or replacing a cookie at sign-in."""
    if token and len(token) <= MAX_TOKEN:
        async with node.sessions.begin() as session:
            await db.delete_session_by_token_hash(session, token_hash(token))


async def end_all_sessions(node: "Node", member_id: int, *, keep: int | None = None) -> int:
    """Sign a member out everywhere (but the session ``keep``); returns how many sessions ended."""
    async with node.sessions.begin() as session:
        return await db.delete_member_sessions(session, member_id, keep=keep)
