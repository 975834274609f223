"""One-time links: invites (invite-only registration), e-mail verification and password reset.

The link carries a random 256-bit code; the database keeps only its SHA-256, so a copy of the
database opens nothing.  Each link works once and until its expiry.  A reset link also ends every
session of the account and voids its other reset links.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from node.db import members as db
from node.db.models import Invite, Member, MemberToken
from node.db.types import utcnow
from node.members.sessions import new_token, token_hash

if TYPE_CHECKING:
    from node.app import Node

VERIFY = "verify"
RESET = "reset"
RESET_HOURS = 1          # a reset link sent by e-mail
ADMIN_RESET_HOURS = 24   # a reset link an admin passes on by hand
VERIFY_DAYS = 3
RESET_MAIL_EVERY = timedelta(minutes=5)  # at most one reset mail per account this often
MAX_CODE = 100


def _usable(code: str) -> bool:
    return bool(code) and len(code) <= MAX_CODE


async def make_invite(node: "Node", *, created_by: int | None = None, days: int | None = None) -> str:
    """A new invite link (``/register?invite=…``), valid for ``days`` (default: ``invite_days``)."""
    code = new_token()
    now = utcnow()
    async with node.sessions.begin() as session:
        session.add(Invite(code_hash=token_hash(code), created_by=created_by, created_at=now,
                           expires_at=now + timedelta(days=days or node.settings.invite_days)))
    return node.urls.base + "/register?" + urlencode({"invite": code})


async def find_invite(node: "Node", code: str) -> Invite | None:
    """The unused, unexpired invite of this code, or None."""
    if not _usable(code):
        return None
    async with node.sessions() as session:
        invite = await db.invite_by_code_hash(session, token_hash(code))
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


async def make_token(node: "Node", member: Member, purpose: str, lifetime: timedelta, *,
                     email: str | None = None) -> str:
    """A new one-time link for ``member``; a new reset link voids the older ones."""
    code = new_token()
    now = utcnow()
    async with node.sessions.begin() as session:
        if purpose == RESET:
            await db.expire_member_tokens(session, member.id, RESET, now)
        session.add(MemberToken(member_id=member.id, purpose=purpose, token_hash=token_hash(code), email=email,
                                created_at=now, expires_at=now + lifetime))
    path = "/reset/password" if purpose == RESET else "/verify"
    return node.urls.base + path + "?" + urlencode({"token": code})


async def find_token(node: "Node", purpose: str, code: str) -> MemberToken | None:
    """The unused, unexpired link of ``purpose`` for this code, or None."""
    if not _usable(code):
        return None
    async with node.sessions() as session:
        token = await db.token_by_hash(session, purpose, token_hash(code))
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


async def recent_reset_sent(node: "Node", member_id: int) -> bool:
    """Whether a reset link was made for this member within ``RESET_MAIL_EVERY`` (no mail flood)."""
    async with node.sessions() as session:
        newest = await db.newest_token_at(session, member_id, RESET)
    return newest is not None and utcnow() - newest < RESET_MAIL_EVERY


async def verify_email(node: "Node", code: str) -> Member | None:
    """Use a verification link: the address it was sent to becomes the account's verified address."""
    token = await find_token(node, VERIFY, code)
    if token is None:
        return None
    now = utcnow()
    async with node.sessions.begin() as session:
        if not await db.use_token(session, token.id, now):
            return None
        member = await db.get_member(session, token.member_id)
        if member is None or (member.email_key or "") != (token.email or "").lower():
            return None  # the address changed since the link was sent
        member.email_verified_at = now
        return member
