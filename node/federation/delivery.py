"""The delivery worker: claims due rows, signs them fresh, posts them, records what happened.

Each row is signed (in the signing processes, ``signpool.py``) once its host's turn
comes and before it takes a slot, so signing never holds a slot; the body and its
digests are computed once per activity.

Runs inside ``fednode serve`` and alone as ``fednode worker``.  Claims are
leases (``lease_until``): rows a crashed worker had claimed become due again
when the lease runs out, so nothing is lost.  Each outcome is written as soon
as it is known (group commits), so only the rows in flight at a crash, at most
``concurrency``, can be posted twice; receivers de-duplicate them by activity
id.  Concurrency is bounded in all
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

from node.db import queries
from node.db.models import Delivery, Host
from node.db.states import DeliveryState, may_become
from node.db.types import utcnow
from node.errors import BlockedAddress, FetchError
from node.federation.actors import HostBreaker
from node.federation.background import cancel
from node.federation.fetch import SignedPost
from node.federation.httpsig import BodyDigests
from node.federation.retry import Verdict, classify, next_attempt
from node.federation.signing import ActorSigner, signer_for

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.delivery")

_LEASE_LOST = object()  # a row whose lease ran out before its turn: left alone
# Core statements on the table where the ORM adds nothing: the claim and the common case of
# the ledger (successes) run once per few rows, and ORM-enabled statements cost several
# times more CPU for the same SQL.
DELIVERIES = Delivery.__table__
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
        self._bodies: dict[str, BodyDigests] = {}  # this round's bodies, encoded and hashed once each
        self._recorded_hosts: set[str] = set()  # hosts of this round with a row in ``hosts``
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        pool = self.node.fetcher.sign_pool
        if pool is not None:
            try:
                await pool.start()  # the signing processes, ready before the first delivery
            except Exception:  # signing then happens in this process; deliveries go on
                log.exception("could not start the signing processes")
        self._task = asyncio.create_task(self._loop(), name="fednode-delivery")

    async def stop(self) -> None:
        await cancel(self._task)
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
        self._bodies = {}
        unavailable, self._recorded_hosts = await self._host_records({row.host for row in rows})
        # One connection for the round's ledger writes: a fresh session per group commit would
        # also pay a pool checkout, its ping and the reset on return, each a trip to the
        # database thread.  Writes are serialised by the ledger, so one connection is enough.
        async with self.node.engine.connect() as connection:
            return await self._round(rows, unavailable, connection)

    async def _round(self, rows: list[Delivery], unavailable: set[str], connection) -> int:
        everyone = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.per_host))
        ledger = _Ledger(lambda batch, results: self._record(batch, results, connection))

        async def one(row: Delivery) -> None:
            if row.host in unavailable:
                await ledger.record(row, Attempt(row.id, row.host, None, f"{row.host} is marked unavailable", None,
                                                 give_up=True))
                return
            # The host's turn first, then a slot in all: rows waiting for a busy host must
            # not sit on slots that rows for other hosts could use meanwhile.  The request is
            # signed in between: signing sends nothing, so it need not hold a slot either.
            async with hosts[row.host]:
                signed = await self._sign_ahead(row)
                await everyone.acquire()
                try:
                    result = await self._attempt(row, signed)
                except BaseException:
                    everyone.release()
                    raise
            # The slot is held until the outcome is written, so at most ``concurrency`` rows
            # are ever sent but not yet recorded: after a crash, only those are sent twice.
            try:
                if result is not _LEASE_LOST:
                    await ledger.record(row, result)
            finally:
                everyone.release()

        outcomes = await asyncio.gather(*(one(row) for row in rows), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]
        log.info("delivery round: %d claimed", len(rows))
        return len(rows)

    async def _sign_ahead(self, row: Delivery) -> SignedPost | None:
        """The row's request signed while it waits for a slot; None if it will not be sent now."""
        if self.breaker.is_open(row.host) or (row.lease_until is not None and row.lease_until <= utcnow()):
            return None  # _attempt will say so
        digests = self._digests(row.body)
        try:
            return await self.node.fetcher.sign_post(row.inbox, digests.body, self._signer(row.signer),
                                                     digests=digests)
        except FetchError:
            return None  # _post meets the same refusal and records it

    async def _attempt(self, row: Delivery, signed: SignedPost | None = None) -> "Attempt | None | object":
        """Post one row now that its turn came: an Attempt, None (host paused) or _LEASE_LOST."""
        if row.lease_until is not None and row.lease_until <= utcnow():
            return _LEASE_LOST  # waited past our lease: another worker may own the row now
        # Looked at only when this row's turn comes, and updated before the host's next
        # row gets its turn, so rows queued behind a failing host see the breaker open.
        if self.breaker.is_open(row.host):
            return None
        result = await self._post(row, signed)
        if not result.give_up:
            self._note(result)
        return result

    def _note(self, result: Attempt) -> None:
        """Feed one answer to the circuit breaker (give-ups are no failure of the host)."""
        verdict = classify(result.status)
        if verdict is Verdict.DONE:
            self.breaker.succeeded(result.host)
        elif verdict is Verdict.RETRY:
            self.breaker.failed(result.host)

    async def claim(self, limit: int) -> list[Delivery]:
        """Lease due rows to this worker (an expired lease counts as free).

        The rows come back as read-only records with the ``Delivery`` attributes
        (``id``, ``inbox``, ``body``, ...), not as ORM objects: nothing changes them.
        """
        now = utcnow()
        table = DELIVERIES
        free = or_(table.c.lease_until.is_(None), table.c.lease_until < now)
        due = and_(table.c.status == DeliveryState.PENDING, table.c.next_attempt_at <= now, free)
        candidates = select(table.c.id).where(due).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
        async with self.node.sessions.begin() as session:
            # One UPDATE: atomic on SQLite; on PostgreSQL the repeated condition drops
            # rows another worker leased in the meantime.
            await session.execute(
                update(table)
                .where(table.c.id.in_(candidates.scalar_subquery()), due)
                .values(lease_until=now + self.lease, lease_owner=self.token)
            )
        async with self.node.sessions() as session:
            query = select(table).where(table.c.lease_owner == self.token, table.c.status == DeliveryState.PENDING)
            return list((await session.execute(query)).all())

    def _signer(self, username: str) -> ActorSigner:
        if username not in self._signers:
            self._signers[username] = signer_for(self.node.settings, username, self.node.fetcher.sign_pool)
        return self._signers[username]

    def _digests(self, body: str) -> BodyDigests:
        """The body as bytes with its digests, computed once per round for all rows sharing it."""
        digests = self._bodies.get(body)
        if digests is None:
            digests = self._bodies[body] = BodyDigests(body.encode("utf-8"))
        return digests

    async def _post(self, row: Delivery, signed: SignedPost | None = None) -> Attempt:
        digests = self._digests(row.body)
        try:
            posted = await self.node.fetcher.post(row.inbox, digests.body, self._signer(row.signer), digests=digests,
                                                  signed=signed)
        except BlockedAddress as exc:
            return Attempt(row.id, row.host, None, exc.reason, None, give_up=True)
        except FetchError as exc:
            return Attempt(row.id, row.host, None, exc.reason, None)
        error = None if 200 <= posted.status < 300 else f"HTTP {posted.status}: {posted.excerpt[:300]}"
        return Attempt(row.id, row.host, posted.status, error, posted.retry_after)

    async def _host_records(self, hosts: set[str]) -> tuple[set[str], set[str]]:
        """Of these hosts: (those marked unavailable, those with any failure record at all)."""
        async with self.node.sessions() as session:
            query = select(Host.domain, Host.unavailable_since).where(Host.domain.in_(hosts))
            found = (await session.execute(query)).all()
        return {domain for domain, since in found if since is not None}, {domain for domain, _ in found}

    async def _record(self, rows: list[Delivery], results: list[Attempt | None], connection=None) -> None:
        """Write every outcome in one transaction, and update what we know of each host.

        Only successes on hosts without a failure record, the common case, are written
        on ``connection`` (when given); anything else goes through an ORM session.
        """
        now = utcnow()
        changes: list[dict[str, Any]] = []
        delivered: dict[int, list[int]] = defaultdict(list)  # status code -> row ids
        succeeded: set[str] = set()
        failed: set[str] = set()
        metrics = self.node.metrics
        for row, result in zip(rows, results):
            if result is None:  # paused host: try again after the cool-off, no attempt counted
                changes.append({"id": row.id, "lease_until": None, "lease_owner": None,
                                "next_attempt_at": now + timedelta(seconds=BREAKER_COOL_OFF)})
                metrics.delivery_attempted("paused")
                continue
            verdict = Verdict.GIVE_UP if result.give_up else classify(result.status)
            if verdict is Verdict.DONE:
                delivered[result.status].append(row.id)
                succeeded.add(result.host)
                metrics.delivery_attempted("delivered")
                continue
            attempts = row.attempts + 1
            change: dict[str, Any] = {"id": row.id, "attempts": attempts, "lease_until": None, "lease_owner": None,
                                      "last_status": result.status, "last_error": result.error}
            if verdict is Verdict.RETRY:
                when = next_attempt(attempts, result.retry_after, now, self.rng)
                if when is None:
                    change.update(status=DeliveryState.FAILED, finished_at=now)
                else:
                    change["next_attempt_at"] = when
                failed.add(result.host)
            else:
                change.update(status=DeliveryState.FAILED, finished_at=now)
            metrics.delivery_attempted("failed" if "status" in change else "retry", result.host)
            changes.append(change)
        cleared = succeeded & self._recorded_hosts
        if connection is not None and not changes and not cleared and not failed:
            async with connection.begin():
                await _mark_delivered(connection, delivered, now)
            log.debug("recorded %d outcomes, all delivered", len(rows))
            return
        async with self.node.sessions.begin() as session:
            await _mark_delivered(session, delivered, now)
            if changes:
                # Only rows still pending change (a row is never moved out of delivered or failed here).
                await session.execute(update(Delivery).where(
                    may_become(Delivery.status, DeliveryState, DeliveryState.FAILED))
                    .execution_options(synchronize_session=None), changes)
            # Only hosts with a record can have failures to clear: a fan-out to healthy
            # hosts then writes nothing about hosts at all.
            await _track_hosts(session, cleared, failed - succeeded, now)
        self._recorded_hosts |= failed
        log.debug("recorded %d outcomes, %d delivered", len(rows), sum(map(len, delivered.values())))


async def _mark_delivered(executor, delivered: dict[int, list[int]], now: datetime) -> None:
    """Successes, the common case, cost one statement per status code, not one per row."""
    for status, ids in delivered.items():
        await executor.execute(
            update(DELIVERIES).where(DELIVERIES.c.id.in_(ids),
                                     may_become(DELIVERIES.c.status, DeliveryState, DeliveryState.DELIVERED))
            .values(status=DeliveryState.DELIVERED, attempts=DELIVERIES.c.attempts + 1, finished_at=now,
                    last_status=status, last_error=None, lease_until=None, lease_owner=None)
        )


@dataclass
class _Entry:
    row: Delivery
    result: Attempt | None
    written: bool = False


class _Ledger:
    """Writes outcomes as they come, many per transaction (a group commit).

    Each caller waits until its own outcome is written; whoever holds the lock
    writes everything that queued up meanwhile, so a slow commit makes the next
    one bigger instead of making everyone wait in line.
    """

    def __init__(self, write) -> None:
        self._write = write
        self._waiting: list[_Entry] = []
        self._lock = asyncio.Lock()

    async def record(self, row: Delivery, result: Attempt | None) -> None:
        entry = _Entry(row, result)
        self._waiting.append(entry)
        async with self._lock:
            if entry.written:
                return
            batch, self._waiting = self._waiting, []
            try:
                await self._write([e.row for e in batch], [e.result for e in batch])
            except BaseException:
                self._waiting[:0] = [e for e in batch if e is not entry]  # the next writer tries them
                raise
            for e in batch:
                e.written = True


async def _track_hosts(session, succeeded: set[str], failed: set[str], now: datetime) -> None:
    """Any success clears a host's failure days; failures add today's date (UTC)."""
    if succeeded:
        await session.execute(
            update(Host).where(Host.domain.in_(succeeded))
            .values(failure_days=[], unavailable_since=None, last_success_at=now)
            .execution_options(synchronize_session=False)
        )
    if not failed:
        return
    # Another worker may record the same new host at the same moment: create the missing
    # rows so that its insert and ours cannot collide, then update them as any other.
    await session.execute(queries.insert_or_ignore(session.bind, Host, ["domain"]),
                          [{"domain": domain, "failure_days": []} for domain in sorted(failed)])
    known = {h.domain: h for h in (await session.scalars(select(Host).where(Host.domain.in_(failed)))).all()}
    today = now.strftime("%Y%m%d")
    for domain in failed:
        host = known[domain]
        days = sorted(set(host.failure_days or []) | {today})
        host.failure_days = days
        host.last_failure_at = now
        if len(days) >= FAILURE_DAYS_THRESHOLD and host.unavailable_since is None:
            host.unavailable_since = now
            log.warning("%s failed on %d distinct days: marked unavailable", domain, len(days))


async def mark_host_available(session, domain: str) -> None:
    """A host that sent us a signed request is reachable again (clears its failure record)."""
    host = await session.get(Host, domain)
    if host is not None and (host.unavailable_since is not None or host.failure_days):
        host.unavailable_since = None
        host.failure_days = []
