"""The inbox's moderation gate: suspended domains and banned actors are refused with 403 before storing.

The blocks live in the database (moderators change them with ``fednode mod``
from another process), so the gate keeps a snapshot and reads it again when it
is older than ``REFRESH_SECONDS``: a new block takes effect at the inbox within
that time, at the decide step (``node.moderation.decide``) too, one read at a time
(``node.snapshot``).  The
same snapshot extends the fetcher's blocked domains, so a suspended domain is
never contacted either (deliveries to it are given up), and the decide step
reads blocks and bans from it instead of querying them for every batch.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any, Collection

from sqlalchemy.ext.asyncio import async_sessionmaker

from node.db import moderation as db
from node.db.types import utcnow
from node.federation.netguard import is_blocked
from node.snapshot import Freshness

REFRESH_SECONDS = 10.0


class Gate:
    """Answers "is this actor or host refused here?" from a snapshot of the blocks and bans."""

    def __init__(self, sessions: async_sessionmaker, *, config_blocked: Collection[str] = (),
                 fetcher: Any = None, clock=time.monotonic) -> None:
        self.sessions = sessions
        self.config_blocked = tuple(config_blocked)
        self.fetcher = fetcher
        self._freshness = Freshness(REFRESH_SECONDS, clock)
        self.suspended: tuple[str, ...] = ()
        self.blocks: dict[str, str] = {}  # domain -> silence | suspend
        self.bans: dict[str, datetime | None] = {}

    def invalidate(self) -> None:
        """Read the blocks again before the next answer (this process just changed them)."""
        self._freshness.invalidate()

    async def refresh(self) -> None:
        generation = self._freshness.generation()
        async with self.sessions() as session:
            blocks = await db.list_domain_blocks(session)
            bans = await db.active_bans(session)
        self.suspended = tuple(b.domain for b in blocks if b.severity == "suspend")
        self.blocks = {b.domain: b.severity for b in blocks}
        self.bans = {b.actor_ap_id: b.expires_at for b in bans}
        self._freshness.read(generation)  # not fresh if a change was made while we read
        if self.fetcher is not None:
            blocked = tuple(dict.fromkeys(self.config_blocked + self.suspended))
            if self.fetcher.policy.blocked_domains != blocked:
                self.fetcher.policy = dataclasses.replace(self.fetcher.policy, blocked_domains=blocked)

    async def fresh(self) -> "Gate":
        """This gate, its snapshot read again if it is older than ``REFRESH_SECONDS``."""
        await self._freshness.ensure(self.refresh)
        return self

    def is_banned(self, actor_ap_id: str) -> bool:
        expires = self.bans.get(actor_ap_id, False)
        return expires is None or (expires is not False and expires > utcnow())

    async def refusal(self, actor_ap_id: str, host: str) -> str | None:
        """Why this actor's activities are refused here, or None."""
        await self.fresh()
        if self.suspended and is_blocked(host, self.suspended):
            return f"{host} is suspended here"
        if self.is_banned(actor_ap_id):
            return "this actor is banned here"
        return None
