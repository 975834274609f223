"""The delivery worker: claims due rows, signs them fresh, posts them, records what happened.

Runs inside ``fednode serve`` and alone as ``fednode worker``.  Claims are
leases (``lease_until``): rows a crashed worker had claimed become due again
when the lease runs out, so nothing is lost; the same activity id may then be
posted twice, which receivers de-duplicate.  Concurrency is bounded in all
and per host; a host that keeps failing is paused for a while (circuit
breaker), and one failing on seven distinct days with no success is marked
unavailable and skipped until it succeeds again or sends us a signed request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update

from node.db.models import Delivery, Host
from node.db.types import utcnow
from node.errors import BlockedAddress, FetchError
from node.federation.actors import HostBreaker
from node.federation.retry import Verdict, classify, next_attempt
from node.federation.signing import ActorSigner, signer_for

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.delivery")

FAILURE_DAYS_THRESHOLD = 7  # Mastodon's DeliveryFailureTracker
BREAKER_THRESHOLD = 10  # consecutive failures to one host (Mastodon's Stoplight)
BREAKER_COOL_OFF = 60.0  # seconds


@dataclass(frozen=True)
class Attempt:
    """The result of posting one delivery once."""

    row_id: int
    host: str
    status: int | None
    error: str | None
    retry_after: str | None
    give_up: bool = False  # refused for good before sending (e.g. a private address)


class DeliveryWorker:
    """One worker: a loop of claim → post concurrently → record."""

    def __init__(
        self, node: "Node", *, concurrency: int = 32, per_host: int = 4, lease_seconds: int = 120,
        poll_interval: float = 1.0, rng: random.Random | None = None, clock=None,
    ) -> None:
        self.node = node
        self.concurrency = concurrency
        self.per_host = per_host
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.rng = rng or random.Random()
        self.token = uuid.uuid4().hex
        self.breaker = HostBreaker(BREAKER_THRESHOLD, BREAKER_COOL_OFF, clock or time.monotonic)
        self._signers: dict[str, ActorSigner] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="fednode-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                done = await self.run_once()
            except Exception:  # a database hiccup must not end deliveries for good
                log.exception("delivery round failed")
                done = 0
            if done == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def run_once(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` due deliveries, post them, record the results; return how many."""
        rows = await self.claim(limit or self.concurrency * 8)
        if not rows:
            return 0
        unavailable = await self._unavailable_hosts({row.host for row in rows})
        everyone = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.per_host))

        async def one(row: Delivery) -> Attempt | None:
            if row.host in unavailable:
                return Attempt(row.id, row.host, None, f"{row.host} is marked unavailable", None, give_up=True)
            if self.breaker.is_open(row.host):
                return None  # not an attempt: released and tried after the cool-off
            async with everyone, hosts[row.host]:
                return await self._post(row)

        results = await asyncio.gather(*(one(row) for row in rows))
        await self._record(rows, results)
        return len(rows)

    async def claim(self, limit: int) -> list[Delivery]:
        """Lease due rows to this worker (an expired lease counts as free)."""
        now = utcnow()
        free = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
        due = and_(Delivery.status == "pending", Delivery.next_attempt_at <= now, free)
        candidates = select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
        async with self.node.sessions.begin() as session:
            # One UPDATE: atomic on SQLite; on PostgreSQL the repeated condition drops
            # rows another worker leased in the meantime.
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(candidates.scalar_subquery()), due)
                .values(lease_until=now + self.lease, lease_owner=self.token)
                .execution_options(synchronize_session=False)
            )
        async with self.node.sessions() as session:
            query = select(Delivery).where(Delivery.lease_owner == self.token, Delivery.status == "pending")
            return list((await session.scalars(query)).all())

    def _signer(self, username: str) -> ActorSigner:
        if username not in self._signers:
            self._signers[username] = signer_for(self.node.settings, username)
        return self._signers[username]

    async def _post(self, row: Delivery) -> Attempt:
        try:
            posted = await self.node.fetcher.post(row.inbox, row.body.encode("utf-8"), self._signer(row.signer))
        except BlockedAddress as exc:
            return Attempt(row.id, row.host, None, exc.reason, None, give_up=True)
        except FetchError as exc:
            return Attempt(row.id, row.host, None, exc.reason, None)
        error = None if 200 <= posted.status < 300 else f"HTTP {posted.status}: {posted.excerpt[:300]}"
        return Attempt(row.id, row.host, posted.status, error, posted.retry_after)

    async def _unavailable_hosts(self, hosts: set[str]) -> set[str]:
        async with self.node.sessions() as session:
            query = select(Host.domain).where(Host.domain.in_(hosts), Host.unavailable_since.is_not(None))
            return set((await session.scalars(query)).all())

    async def _record(self, rows: list[Delivery], results: list[Attempt | None]) -> None:
        """Write every outcome in one transaction, and update what we know of each host."""
        now = utcnow()
        changes: list[dict[str, Any]] = []
        succeeded: set[str] = set()
        failed: set[str] = set()
        for row, result in zip(rows, results):
            if result is None:  # paused host: try again after the cool-off, no attempt counted
                changes.append({"id": row.id, "lease_until": None, "lease_owner": None,
                                "next_attempt_at": now + timedelta(seconds=BREAKER_COOL_OFF)})
                continue
            attempts = row.attempts + 1
            change: dict[str, Any] = {"id": row.id, "attempts": attempts, "lease_until": None, "lease_owner": None,
                                      "last_status": result.status, "last_error": result.error}
            verdict = Verdict.GIVE_UP if result.give_up else classify(result.status)
            if verdict is Verdict.DONE:
                change.update(status="delivered", finished_at=now)
                succeeded.add(result.host)
                self.breaker.succeeded(result.host)
            elif verdict is Verdict.RETRY:
                when = next_attempt(attempts, result.retry_after, now, self.rng)
                if when is None:
                    change.update(status="failed", finished_at=now)
                else:
                    change["next_attempt_at"] = when
                failed.add(result.host)
                self.breaker.failed(result.host)
            else:
                change.update(status="failed", finished_at=now)
            changes.append(change)
        async with self.node.sessions.begin() as session:
            await session.execute(update(Delivery), changes)
            await _track_hosts(session, succeeded, failed - succeeded, now)
        delivered = sum(1 for c in changes if c.get("status") == "delivered")
        log.info("delivery round: %d sent, %d delivered", len(rows), delivered)


async def _track_hosts(session, succeeded: set[str], failed: set[str], now: datetime) -> None:
    """Any success clears a host's failure days; failures add today's date (UTC)."""
    if not succeeded and not failed:
        return
    known = {h.domain: h for h in (await session.scalars(select(Host).where(Host.domain.in_(succeeded | failed)))).all()}
    today = now.strftime("%Y%m%d")
    for domain in succeeded:
        host = known.get(domain) or Host(domain=domain, failure_days=[])
        host.failure_days = []
        host.unavailable_since = None
        host.last_success_at = now
        session.add(host)
    for domain in failed:
        host = known.get(domain) or Host(domain=domain, failure_days=[])
        days = sorted(set(host.failure_days or []) | {today})
        host.failure_days = days
        host.last_failure_at = now
        if len(days) >= FAILURE_DAYS_THRESHOLD and host.unavailable_since is None:
            host.unavailable_since = now
            log.warning("%s failed on %d distinct days: marked unavailable", domain, len(days))
        session.add(host)


async def mark_host_available(session, domain: str) -> None:
    """A host that sent us a signed request is reachable again (clears its failure record)."""
    host = await session.get(Host, domain)
    if host is not None and (host.unavailable_since is not None or host.failure_days):
        host.unavailable_since = None
        host.failure_days = []
