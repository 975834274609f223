"""Signing in: the steps behind ``POST /login``, in their order (node/web/account.py maps the result to HTTP).

1. the account is found by username or e-mail address (an unknown name is throttled like a real
   one, under the name as typed, so the answers tell nothing about which accounts exist);
2. while the account or the client's address is throttled, the sign-in is refused before any
   password work (``throttle``: a growing backoff kept in the database);
3. the password is checked (argon2id, as long for an unknown name); a failure counts against both;
4. a success clears the account's count; an account that is not active is then refused, which is
   said only to someone who knows its password.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.db.models import Member
from node.members import accounts, throttle
from node.members.roles import MemberStatus

if TYPE_CHECKING:
    from node.app import Node


class Refusal(enum.Enum):
    """Why a sign-in did not start a session."""

    THROTTLED = "throttled"        # too many failures lately, for the account or the address
    WRONG = "wrong"                # no such account, or not its password (never said which)
    NOT_ACTIVE = "not active"      # the right password, for an account that may not sign in now


@dataclass(frozen=True)
class SignIn:
    """What became of a sign-in: the active member, or the refusal (with the wait, or the account's status)."""

    member: Member | None = None
    refusal: Refusal | None = None
    retry_after: int | None = None        # THROTTLED: seconds to wait
    status: MemberStatus | None = None    # NOT_ACTIVE: the account's status


async def sign_in(node: "Node", login: str, password: str, address: str) -> SignIn:
    """Check ``login`` and ``password`` for a client at ``address`` (as ``web.client`` reads it)."""
    member = await accounts.find_login(node, login)
    account_key = throttle.account_key(member.id if member else None, login)
    address_key = throttle.address_key(address)
    wait = await throttle.blocked(node, [account_key, address_key])
    if wait is not None:
        return SignIn(refusal=Refusal.THROTTLED, retry_after=wait.retry_after)
    if await accounts.check_password(node, member, password) is None or member is None:
        await throttle.failed(node, account_key, address_key)
        return SignIn(refusal=Refusal.WRONG)
    await throttle.succeeded(node, account_key)
    if member.status != MemberStatus.ACTIVE:
        return SignIn(refusal=Refusal.NOT_ACTIVE, status=MemberStatus(member.status))
    return SignIn(member=member)
