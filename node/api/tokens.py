"""Members' API tokens: made and revoked on ``/account/tokens``, presented as ``Authorization: Bearer``.

A token is 32 random bytes (``fdn_`` + URL-safe base64), shown once; the database keeps only
its SHA-256 (a fast hash is enough for a secret of 256 random bits, as for session tokens and
GitHub's tokens: there is nothing to guess).  Each carries scopes (``SCOPES``), so a token given
to a tool that only comments cannot open discussions.  A token works only while its member is
active: a suspended member's tokens are refused, a deleted member's are gone with the account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from node.db import tokens as db
from node.db.models import ApiToken
from node.db.types import utcnow
from node.errors import NodeError
from node.members.roles import MemberStatus

if TYPE_CHECKING:
    from node.app import Node

PREFIX = "fdn_"
SCOPES = {
    "comment": "post comments",
    "discuss": "open discussions of web pages",
}
MAX_NAME = 100
MAX_TOKENS = 20  # per member: more is a sign of tokens made and never revoked
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class TokenError(NodeError):
    """A token that cannot be made (reason shown on the page)."""


@dataclass(frozen=True)
class Bearer:
    """Who a valid token speaks for, and what it may do."""

    token_id: int
    member_id: int
    actor_id: int
    username: str
    scopes: frozenset[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(node: "Node", member_id: int, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Make a token for the member; returns the row and the token itself (the only time it is known)."""
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise TokenError("give the token a name, so you know later where it is used")
    wanted = sorted(set(scopes))
    if not wanted or any(scope not in SCOPES for scope in wanted):
        raise TokenError(f"choose what the token may do: {', '.join(SCOPES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    async with node.sessions.begin() as session:
        if await db.count_tokens(session, member_id) >= MAX_TOKENS:
            raise TokenError(f"you have {MAX_TOKENS} tokens, the most one member may have: revoke one first")
        row = await db.add_token(session, member_id=member_id, name=name, token_hash=token_hash(token),
                                 scopes=" ".join(wanted), now=utcnow())
    return row, token


async def revoke_token(node: "Node", member_id: int, token_id: int) -> bool:
    async with node.sessions.begin() as session:
        return await db.delete_token(session, member_id, token_id)


async def list_tokens(node: "Node", member_id: int) -> list[ApiToken]:
    async with node.sessions() as session:
        return list(await db.list_tokens(session, member_id))


async def authenticate(node: "Node", token: str) -> Bearer | None:
    """The member a presented token speaks for, or None (unknown, revoked, or the member is not active)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    now = utcnow()
    async with node.sessions.begin() as session:
        found = await db.token_with_member(session, token_hash(token))
        if found is None:
            return None
        row, member = found
        if member.status != MemberStatus.ACTIVE:
            return None
        await db.touch_token(session, row.id, now, unless_since=now - TOUCH_EVERY)
        return Bearer(row.id, member.id, member.actor_id, member.username, frozenset(row.scopes.split()))
