"""Accounts: creating a member (with its local Person actor and key pair), approving, rejecting,
suspending, checking a password and changing it.

Every function takes the ``Node`` and runs its own transaction; the slow parts (argon2 hashing,
RSA key generation) run in threads before the transaction opens, so no transaction waits on them.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from node import keys
from node.db import members as db
from node.db.models import Member
from node.db.types import utcnow
from node.members import mail, passwords, usernames
from node.members.roles import MemberStatus, Role
from node.services.setup import ensure_local_actor

if TYPE_CHECKING:
    from node.app import Node

MAX_EMAIL = 320
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_APPLICATION = 2000  # characters of "why do you want to join"
MAX_DISPLAY_NAME = 100


class AccountError(ValueError):
    """Why an account cannot be created or changed; ``field`` names the form field to point at."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_email(email: str | None) -> tuple[str | None, str | None]:
    """(the address as typed but trimmed, its lowercase lookup key), or (None, None) for none given."""
    text = (email or "").strip()
    if not text:
        return None, None
    if len(text) > MAX_EMAIL or not _EMAIL.match(text):
        raise AccountError(f"{text[:80]!r} is not an e-mail address.", "email")
    return text, text.lower()


async def create_member(node: "Node", username: str, password: str, email: str | None = None,
                        role: Role = Role.MEMBER, status: MemberStatus = MemberStatus.ACTIVE, *,
                        display_name: str | None = None, application: str | None = None,
                        email_verified: bool = False, invite_id: int | None = None) -> Member:
    """Create an account and its local ``Person`` actor (key pair in ``keys_dir``); return the member.

    Raises ``AccountError`` for a username that breaks the rules or is taken (by an account or any
    local actor, case-insensitively), a weak password, or an e-mail address in use.  With
    ``invite_id`` the invite is used up in the same transaction (and the account not made if it
    was used or expired meanwhile).
    """
    try:
        name = usernames.check(username, site_username=node.settings.site_username)
    except usernames.UsernameError as exc:
        raise AccountError(str(exc), "username") from None
    try:
        passwords.check_strength(password, username=name)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc), "password") from None
    shown_email, email_key = normalize_email(email)
    display = (display_name or "").strip()[:MAX_DISPLAY_NAME] or None
    answer = (application or "").strip()[:MAX_APPLICATION] or None
    async with node.sessions() as session:
        if await db.name_taken(session, name):
            raise AccountError(f"The username {name!r} is taken; choose another.", "username")
        if email_key and await db.email_taken(session, email_key):
            raise AccountError("An account with this e-mail address exists; sign in or reset its password.", "email")
    password_hash = await passwords.hash_password(password)
    # RSA key generation takes tens of milliseconds: in a thread, before the transaction.
    await asyncio.to_thread(keys.ensure_key, node.settings.keys_dir, name)
    now = utcnow()
    try:
        async with node.sessions.begin() as session:
            actor, created = await ensure_local_actor(session, node.settings, name, "Person", display or name)
            if not created:
                raise AccountError(f"The username {name!r} is taken; choose another.", "username")
            member = Member(
                actor_id=actor.id, username=name, email=shown_email, email_key=email_key,
                email_verified_at=now if (email_verified and email_key) else None, password_hash=password_hash,
                role=Role(role).value, status=MemberStatus(status).value, application=answer, created_at=now,
                approved_at=now if status == MemberStatus.ACTIVE else None, password_changed_at=now,
            )
            session.add(member)
            await session.flush()
            member.actor = actor
            if invite_id is not None and not await db.use_invite(session, invite_id, member.id, now):
                raise AccountError("This invite link was used or has expired; ask for a new one.", "invite")
    except IntegrityError:
        # Someone took the name or the address between the check and the insert.
        raise AccountError(f"The username {name!r} or this e-mail address is taken; choose another.",
                           "username") from None
    return member


async def find_login(node: "Node", login: str) -> Member | None:
    """The account a sign-in names (username or e-mail address), whatever its status."""
    async with node.sessions() as session:
        return await db.get_member_by_login(session, login)


async def authenticate(node: "Node", login: str, password: str) -> Member | None:
    """The member whose username or e-mail is ``login`` and whose password is ``password``, else None."""
    return await check_password(node, await find_login(node, login), password)


async def check_password(node: "Node", member: Member | None, password: str) -> Member | None:
    """``member`` if ``password`` is theirs, else None.

    An unknown login (``member`` None) costs one argon2 verification too, so the answer takes as
    long either way.  Callers tell a pending or suspended account apart by ``member.status`` only
    after this returned it (the password was right), so the status never leaks to someone without it.
    """
    ok = await passwords.verify_password(member.password_hash if member else None, password)
    if not ok or member is None:
        return None
    if passwords.needs_rehash(member.password_hash):
        new_hash = await passwords.hash_password(password)
        async with node.sessions.begin() as session:
            row = await db.get_member(session, member.id)
            if row is not None:
                row.password_hash = new_hash
    return member


async def set_password(node: "Node", member_id: int, password: str, *, reset_token_id: int | None = None) -> Member:
    """Give a member a new password (strength checked) and end all their sessions and reset links.

    With ``reset_token_id`` the reset link is used up in the same transaction: a link used twice at
    once changes the password once.
    """
    async with node.sessions() as session:
        member = await db.get_member(session, member_id)
        if member is None:
            raise AccountError("No such account.")
        name = member.username
    try:
        passwords.check_strength(password, username=name)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc), "password") from None
    password_hash = await passwords.hash_password(password)
    now = utcnow()
    async with node.sessions.begin() as session:
        member = await db.get_member(session, member_id)
        if member is None:
            raise AccountError("No such account.")
        if reset_token_id is not None and not await db.use_token(session, reset_token_id, now):
            raise AccountError("This reset link was used or has expired; ask for a new one.")
        member.password_hash = password_hash
        member.password_changed_at = now
        await db.delete_member_sessions(session, member_id)
        await db.expire_member_tokens(session, member_id, "reset", now)
        return member


async def _set_status(node: "Node", member_id: int, status: MemberStatus, *, only_from: tuple[MemberStatus, ...]) -> Member:
    async with node.sessions.begin() as session:
        member = await db.get_member(session, member_id)
        if member is None:
            raise AccountError("No such account.")
        if MemberStatus(member.status) not in only_from:
            raise AccountError(f"@{member.username} is {member.status}, not {' or '.join(only_from)}.")
        member.status = status.value
        if status == MemberStatus.ACTIVE and member.approved_at is None:
            member.approved_at = utcnow()
        if status != MemberStatus.ACTIVE:
            await db.delete_member_sessions(session, member_id)
        return member


async def approve_member(node: "Node", member_id: int) -> Member:
    """Let a pending applicant in (approval mode): they can sign in from now on (told by e-mail when the node sends mail)."""
    member = await _set_status(node, member_id, MemberStatus.ACTIVE, only_from=(MemberStatus.PENDING,))
    settings = node.settings
    if member.email and mail.mail_enabled(settings):
        mail.send_later(settings, member.email, f"Welcome to {settings.site_name}",
                        f"Hello {member.username},\n\nyour application was approved: you can sign in now at\n\n"
                        f"{node.urls.base}/login\n")
    return member


async def reject_member(node: "Node", member_id: int) -> Member:
    """Refuse a pending application; the username stays taken and the account cannot sign in."""
    return await _set_status(node, member_id, MemberStatus.REJECTED, only_from=(MemberStatus.PENDING,))


async def suspend_member(node: "Node", member_id: int) -> Member:
    """Stop an active member from signing in; their sessions end at once."""
    return await _set_status(node, member_id, MemberStatus.SUSPENDED, only_from=(MemberStatus.ACTIVE,))


async def unsuspend_member(node: "Node", member_id: int) -> Member:
    """Let a suspended member sign in again."""
    return await _set_status(node, member_id, MemberStatus.ACTIVE, only_from=(MemberStatus.SUSPENDED,))


async def set_role(node: "Node", member_id: int, role: Role) -> Member:
    """Make a member an admin, a moderator or a plain member."""
    async with node.sessions.begin() as session:
        member = await db.get_member(session, member_id)
        if member is None:
            raise AccountError("No such account.")
        member.role = Role(role).value
        return member
