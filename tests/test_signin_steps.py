"""node.members.signin: the steps of a sign-in and their typed outcomes, called directly on a real node.

The HTTP side (the form, the messages, 401/403/429 and ``Retry-After``, the session cookie) is in
tests/test_sign_in.py and tests/test_login_throttle.py; these say which outcome each case is.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from node.db import members as db
from node.db.types import utcnow
from node.members import signin, throttle
from node.members.roles import MemberStatus
from tests.members_support import PASSWORD, make_member

ADDRESS = "203.0.113.7"


@pytest.mark.parametrize("status", [MemberStatus.ACTIVE, MemberStatus.PENDING, MemberStatus.SUSPENDED,
                                    MemberStatus.REJECTED], ids=lambda s: s.value)
async def test_the_right_password_signs_in_only_an_active_account(node, status):
    """With the right password an active account signs in; any other is refused with its status."""
    # Given an account with this status
    member = await make_member(node, "alice", status=status, email="alice@example.org")
    # When it signs in with its password
    result = await signin.sign_in(node.node, "alice", PASSWORD, ADDRESS)
    # Then only an active account gets in; the others learn why (they know the password)
    if status is MemberStatus.ACTIVE:
        assert (result.member.id, result.refusal) == (member.id, None)
    else:
        assert (result.member, result.refusal, result.status) == (None, signin.Refusal.NOT_ACTIVE, status)


@pytest.mark.parametrize("login, password", [
    ("alice", "not the password"),
    ("nobody", PASSWORD),
], ids=["wrong-password", "unknown-account"])
async def test_a_wrong_password_and_an_unknown_account_are_the_same_refusal(node, login, password):
    """Nothing tells a wrong password from an account that does not exist."""
    # Given an account alice
    await make_member(node, "alice")
    # When someone signs in with a wrong password or an unknown name
    result = await signin.sign_in(node.node, login, password, ADDRESS)
    # Then the refusal is WRONG, with nothing more
    assert result == signin.SignIn(refusal=signin.Refusal.WRONG)


@pytest.mark.parametrize("login", ["alice", "nobody"], ids=["account", "unknown-name"])
async def test_a_throttled_name_waits_even_with_the_right_password(node, login):
    """Past ``FREE_ACCOUNT`` failures the account (or a name that is none) is refused before its password is read."""
    # Given an account, FREE_ACCOUNT failed sign-ins under one name, and their block made long
    # (ten minutes, so how fast this machine runs the next step does not matter)
    member = await make_member(node, "alice")
    for _ in range(throttle.FREE_ACCOUNT):
        await signin.sign_in(node.node, login, "not the password", ADDRESS)
    key = throttle.account_key(member.id if login == "alice" else None, login)
    async with node.node.sessions.begin() as session:
        [row] = await db.throttles(session, [key])
        assert row.blocked_until is not None  # the failures blocked it
        row.blocked_until = utcnow() + timedelta(minutes=10)
    # When the name signs in again, with alice's right password
    result = await signin.sign_in(node.node, login, PASSWORD, ADDRESS)
    # Then it is told to wait out the block
    assert (result.refusal, result.member) == (signin.Refusal.THROTTLED, None)
    assert 60 < result.retry_after <= 600  # the ten-minute block, whatever time the steps took
