"""Sign-in rate limiting with a growing backoff, per account and per client address.

The first ``FREE_*`` failures cost nothing (people mistype); each failure after that blocks the
account (or the address) for twice as long as the one before: 2 s, 4 s, 8 s… up to ``MAX_BLOCK``.
While blocked, a sign-in is refused before its password is checked, so guessing costs the
attacker time and this server no argon2 work.  A success clears the account's count (not the
address's, which may be an attacker's who also has an account); counts older than ``FORGET``
start again from zero.

The counts live in the database (``login_throttles``), not in memory: on PostgreSQL any number
of processes answer sign-ins (``serve --workers N``) and share nothing else, so an in-memory
count would give an attacker N times the guesses, and every restart would forgive them all.
It costs one write per *failed* sign-in; successful ones and page views write nothing.

An unknown account name is throttled like a real one (under the name as typed), so the
throttle's answers tell nothing about which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from node.db import members as db
from node.db.types import utcnow

if TYPE_CHECKING:
    from node.app import Node

FREE_ACCOUNT = 5     # failures of one account before the backoff starts
FREE_ADDRESS = 20    # of one address: more, because many people can share one (NAT, a school)
FIRST_BLOCK = timedelta(seconds=2)
MAX_BLOCK = timedelta(minutes=15)
FORGET = timedelta(hours=24)


def account_key(member_id: int | None, login: str) -> str:
    return f"member:{member_id}" if member_id is not None else f"login:{login.strip().lower()[:180]}"


def address_key(address: str) -> str:
    return f"ip:{address}"


def backoff(failures: int, free: int) -> timedelta | None:
    """How long to block after ``failures`` failures (None while under ``free``)."""
    if failures < free:
        return None
    seconds = FIRST_BLOCK.total_seconds() * 2 ** min(failures - free, 20)
    return min(timedelta(seconds=seconds), MAX_BLOCK)


@dataclass(frozen=True)
class Blocked:
    """A sign-in refused for now, and in how many seconds to try again."""

    retry_after: int


async def blocked(node: "Node", keys: list[str], now: datetime | None = None) -> Blocked | None:
    """Whether any of ``keys`` is blocked now, and for how long."""
    now = now or utcnow()
    async with node.sessions() as session:
        rows = await db.throttles(session, keys)
    waits = [row.blocked_until - now for row in rows if row.blocked_until is not None and row.blocked_until > now
             and row.last_failure_at >= now - FORGET]
    if not waits:
        return None
    return Blocked(max(1, int(max(waits).total_seconds() + 0.999)))


async def failed(node: "Node", account: str, address: str) -> None:
    """Count a failed sign-in against the account and the address, blocking them when due."""
    now = utcnow()
    async with node.sessions.begin() as session:
        await db.forget_old_throttles(session, now - FORGET)  # indexed: old counts do not pile up
        for key, free in ((account, FREE_ACCOUNT), (address, FREE_ADDRESS)):
            failures = await db.record_failure(session, key, now, now - FORGET)
            wait = backoff(failures, free)
            if wait is not None:
                await db.block_until(session, key, now + wait)


async def succeeded(node: "Node", account: str) -> None:
    """Forget the account's failures after a successful sign-in."""
    async with node.sessions.begin() as session:
        await db.clear_throttle(session, account)
