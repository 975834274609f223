"""The delivery worker: claims due rows, signs them fresh, posts them, records what happened.

Each row is signed (in the signing processes, ``signpool.py``) once its host's turn
comes and before it takes a slot, so signing never holds a slot; the body and its
digests are computed once per activity.

Runs inside ``fednode serve`` and alone as ``fednode worker``.  Claims are
leases (``lease_until``): rows a crashed worker had claimed become due again
when the lease runs out, so nothing is lost.  Each outcome is written as soon
as it is known (group commits), so only the rows in flight at a crash, at most
``concurrency + slow_lane``, can be posted twice; receivers de-duplicate them by
activity id.  Concurrency is bounded per host and per lane: a fast lane for hosts
that answer, a slow lane for requests not answered within ``SLOW_AFTER`` and for
hosts that failed lately, so dead servers never hold back live ones.  A host that
keeps failing is paused for a while (circuit breaker), and one failing on seven distinct days with no success is marked
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

from node.db import deliveries as ledger
from node.db.models import Delivery, Host
from node.db.states import DeliveryState
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
FAILURE_DAYS_THRESHOLD = 7  # Mastodon's DeliveryFailureTracker
BREAKER_THRESHOLD = 10  # consecutive failures to one host (Mastodon's Stoplight)
BREAKER_COOL_OFF = 60.0  # seconds
# A request not answered within this long leaves the fast lane for the slow one; live
# servers answer in well under a second, dead ones only time out (5 s connect, 10 s read).
SLOW_AFTER = 2.0  # seconds
SLOW_MEMORY = 600.0  # seconds a host that was slow or failed keeps going to the slow lane


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
    """One worker: claims due rows in batches and keeps them flowing through two lanes.

    The background loop (``start``) claims more rows as soon as there is room, so a
    row that takes long never holds back the rows claimed after it; ``run_once``
    claims one batch and waits for all of it (tests and tools).
    """

    def __init__(
        self, node: "Node", *, concurrency: int = 32, per_host: int = 4, lease_seconds: int = 120,
        slow_lane: int = 128, slow_after: float = SLOW_AFTER, poll_interval: float = 1.0,
        rng: random.Random | None = None, clock=None,
    ) -> None:
        self.node = node
        self.concurrency = concurrency
        self.per_host = per_host
        self.slow_lane = slow_lane
        self.slow_after = slow_after
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.rng = rng or random.Random()
        self.token = uuid.uuid4().hex
        self.clock = clock or time.monotonic
        self.breaker = HostBreaker(BREAKER_THRESHOLD, BREAKER_COOL_OFF, self.clock)
        # Rows claimed and not finished: the loop claims more while there is room.
        self.max_claimed = concurrency * 4 + slow_lane
        # ... once there is room for a fast lane's worth: rows stuck behind dead hosts stay in
        # hand for their whole timeouts, so waiting for more room would starve the fast lane.
        self.claim_when_room = min(concurrency, self.max_claimed // 2)
        self._fast = asyncio.Semaphore(concurrency)
        self._slow = asyncio.Semaphore(slow_lane)
        self._turns: dict[str, _Turn] = {}  # per-host limits, for hosts with rows in hand
        self._slow_hosts: dict[str, float] = {}  # host -> until when it goes to the slow lane
        self._claimed: set[int] = set()
        self._signers: dict[str, ActorSigner] = {}
        self._bodies: dict[str, BodyDigests] = {}  # recent bodies, encoded and hashed once each
        self._recorded_hosts: set[str] = set()  # hosts known to have a row in ``hosts``
        self._unavailable: set[str] = set()
        self._ledger = _Ledger(self._record)
        self._nudge = asyncio.Event()  # new rows queued, or room freed while the loop waited for it
        self._waiting_for_room = False
        self._task: asyncio.Task | None = None
        self._rows: set[asyncio.Task] = set()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._nudge.set()

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
        # Rows in flight are dropped: their lease runs out and they are claimed again.
        for task in list(self._rows):
            await cancel(task)

    async def _loop(self) -> None:
        while True:
            # Cleared before claiming, not after: a wake-up that comes while a claim is under
            # way (rows committed after the claim looked) is kept, and claims again at once
            # instead of after ``poll_interval``.
            self._nudge.clear()
            room = self.max_claimed - len(self._claimed)
            asked, got = 0, 0
            if room >= self.claim_when_room:
                # With nothing in hand, a first claim of a fast lane's worth: the rows start
                # signing and posting while the next claim (at once: a full batch) fetches the
                # rest, instead of every lane waiting for one big claim to come back.
                asked = room if self._claimed else self.claim_when_room
                try:
                    got = len(await self._claim_and_start(asked))
                except Exception:  # a database hiccup must not end deliveries for good
                    log.exception("delivery claim failed")
            else:
                self._waiting_for_room = True
            if asked and got >= asked:
                continue  # a full batch: more may be due
            try:
                await asyncio.wait_for(self._nudge.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def _claim_and_start(self, limit: int) -> list[Delivery]:
        busy = [host for host, turn in self._turns.items() if turn.rows >= 2 * self.per_host]
        rows = await self._claim_and_learn(limit, busy)
        if rows:
            self._claimed.update(row.id for row in rows)  # counted now: the loop may claim again before they start
            for row in rows:
                task = asyncio.create_task(self._deliver(row))
                self._rows.add(task)
                task.add_done_callback(self._row_done)
            log.info("delivery: %d claimed, %d in hand", len(rows), len(self._claimed))
        return rows

    def _row_done(self, task: asyncio.Task) -> None:
        self._rows.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery failed unexpectedly", exc_info=task.exception())

    async def run_once(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` due deliveries, post them, record the results; return how many."""
        rows = await self._claim_and_learn(limit or self.concurrency * 8)
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(row) for row in rows), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]
        log.info("delivery round: %d claimed", len(rows))
        return len(rows)

    async def _deliver(self, row: Delivery) -> None:
        """Post one claimed row in its host's turn and its lane, and record the outcome."""
        self._claimed.add(row.id)
        turn = self._turns.get(row.host)
        if turn is None:
            turn = self._turns[row.host] = _Turn(asyncio.Semaphore(self.per_host))
        turn.rows += 1
        try:
            if row.host in self._unavailable:
                await self._ledger.record(row, Attempt(row.id, row.host, None, f"{row.host} is marked unavailable",
                                                       None, give_up=True))
                return
            # The host's turn first, then a lane slot: rows waiting for a busy host must
            # not sit on slots that rows for other hosts could use meanwhile.  The request is
            # signed in between: signing sends nothing, so it need not hold a slot either.
            async with turn.limit:
                signed = await self._sign_ahead(row)
                slot = _Slot(self._slow if self._is_slow(row.host) else self._fast)
                await slot.lane.acquire()
                try:
                    result = await self._attempt_in_lane(row, signed, slot)
                except BaseException:
                    slot.lane.release()  # the lane it holds now, after a move too
                    raise
            # The slot is held until the outcome is written, so at most ``concurrency`` +
            # ``slow_lane`` rows are ever sent but not yet recorded: after a crash, only
            # those are sent twice.
            try:
                if result is not _LEASE_LOST:
                    await self._ledger.record(row, result)
            finally:
                slot.lane.release()
        finally:
            turn.rows -= 1
            if turn.rows == 0:
                del self._turns[row.host]
            self._claimed.discard(row.id)
            if self._waiting_for_room and self.max_claimed - len(self._claimed) >= self.claim_when_room:
                self._waiting_for_room = False
                self._nudge.set()

    async def _attempt_in_lane(self, row: Delivery, signed: SignedPost | None, slot: "_Slot"):
        """Post the row; one not answered within ``slow_after`` moves to the slow lane.

        A dead host costs a fast slot for ``slow_after`` seconds, not for the whole
        connect and read timeouts; its next rows go straight to the slow lane.  When the
        slow lane is full the request keeps its fast slot (back-pressure, not a drop).
        The post runs in the row's own task; only a timer watches it, and the move to the
        slow lane is a task of its own started when the timer fires (seldom): a task and
        a wait per row cost more CPU than the rest of the row's bookkeeping.
        """
        if slot.lane is self._slow:
            result = await self._attempt(row, signed)
            if isinstance(result, Attempt) and classify(result.status) is Verdict.DONE:
                self._slow_hosts.pop(row.host, None)
            elif isinstance(result, Attempt):
                self._mark_slow(row.host)
            return result
        timer = asyncio.get_running_loop().call_later(self.slow_after, self._start_move, slot, row.host)
        try:
            return await self._attempt(row, signed)
        finally:
            timer.cancel()
            if slot.move is not None and not slot.move.done():
                slot.move.cancel()  # answered before a slow slot was free: it keeps its fast one

    def _start_move(self, slot: "_Slot", host: str) -> None:
        """``slow_after`` passed without an answer: move the row to the slow lane once a slot is free there."""
        slot.move = asyncio.ensure_future(self._move_to_slow_lane(slot, host))

    async def _move_to_slow_lane(self, slot: "_Slot", host: str) -> None:
        await self._slow.acquire()
        # Nothing awaited from here on: the row sees its slot either before or after the move.
        self._fast.release()
        slot.lane = self._slow
        self._mark_slow(host)

    def _is_slow(self, host: str) -> bool:
        until = self._slow_hosts.get(host)
        if until is None:
            return False
        if until <= self.clock():
            del self._slow_hosts[host]
            return False
        return True

    def _mark_slow(self, host: str) -> None:
        if len(self._slow_hosts) > 50_000:  # forget the expired ones before growing further
            now = self.clock()
            self._slow_hosts = {h: until for h, until in self._slow_hosts.items() if until > now}
        self._slow_hosts[host] = self.clock() + SLOW_MEMORY

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

    async def claim(self, limit: int, *, busy_hosts: list[str] = ()) -> list[Delivery]:
        """Lease up to ``limit`` due rows to this worker (an expired lease counts as free).

        On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so
        workers claiming at the same moment take different rows instead of waiting for
        each other; SQLite has one writer at a time and needs nothing.  Rows for
        ``busy_hosts`` (this worker already holds plenty for them) are left to others.
        The rows come back as read-only records with the ``Delivery`` attributes
        (``id``, ``inbox``, ``body``, ...), not as ORM objects: nothing changes them.
        """
        now = utcnow()
        async with self.node.engine.begin() as connection:
            return await ledger.claim_deliveries(connection, self.token, limit, now=now, lease_until=now + self.lease,
                                                 busy_hosts=busy_hosts)

    async def _claim_and_learn(self, limit: int, busy_hosts: list[str] = ()) -> list[Delivery]:
        """``claim``, and what the hosts table says of the claimed rows' hosts, in one transaction.

        A bare connection, not a session: both statements are Core, and a session's
        bookkeeping cost as much again as the statements themselves.
        """
        now = utcnow()
        async with self.node.engine.begin() as connection:
            rows = await ledger.claim_deliveries(connection, self.token, limit, now=now,
                                                 lease_until=now + self.lease, busy_hosts=busy_hosts)
            if not rows:
                return rows
            hosts = {row.host for row in rows}
            found = await ledger.host_states(connection, hosts)
        self._learn_hosts(hosts, found)
        return rows

    def _signer(self, username: str) -> ActorSigner:
        if username not in self._signers:
            self._signers[username] = signer_for(self.node.settings, username, self.node.fetcher.sign_pool)
        return self._signers[username]

    def _digests(self, body: str) -> BodyDigests:
        """The body as bytes with its digests, computed once per round for all rows sharing it."""
        digests = self._bodies.get(body)
        if digests is None:
            if len(self._bodies) >= 64:  # a fan-out shares one body; keep only recent ones
                self._bodies.clear()
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

    def _learn_hosts(self, hosts: set[str], found: list[Any]) -> None:
        """What the hosts table says about these hosts (``found``): unavailable, recorded, failing lately."""
        self._unavailable -= hosts
        self._unavailable |= {domain for domain, since, _, _ in found if since is not None}
        self._recorded_hosts |= {domain for domain, *_ in found}
        for domain, _, failed_at, succeeded_at in found:
            # A host whose last answer was a failure starts in the slow lane.
            if failed_at is not None and (succeeded_at is None or failed_at > succeeded_at):
                if not self._is_slow(domain):
                    self._mark_slow(domain)

    async def _record(self, rows: list[Delivery], results: list[Attempt | None]) -> None:
        """Write every outcome in one transaction, and update what we know of each host.

        Only successes on hosts without a failure record, the common case, are written
        on a bare connection; anything else goes through an ORM session.
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
        if not changes and not cleared and not failed:
            async with self.node.engine.begin() as connection:
                await ledger.mark_delivered(connection, delivered, now)
            log.debug("recorded %d outcomes, all delivered", len(rows))
            return
        async with self.node.sessions.begin() as session:
            await ledger.mark_delivered(session, delivered, now)
            # Only rows still pending change (a row is never moved out of delivered or failed here).
            await ledger.record_attempts(session, changes)
            # Only hosts with a record can have failures to clear: a fan-out to healthy
            # hosts then writes nothing about hosts at all.
            await _track_hosts(session, cleared, failed - succeeded, now)
        self._recorded_hosts |= failed
        log.debug("recorded %d outcomes, %d delivered", len(rows), sum(map(len, delivered.values())))


@dataclass
class _Turn:
    """A host's turn: its per-host limit, and how many rows of it this worker holds."""

    limit: asyncio.Semaphore
    rows: int = 0


@dataclass
class _Slot:
    """The lane slot a row holds while it is posted and recorded; ``lane`` changes when it moves."""

    lane: asyncio.Semaphore
    move: asyncio.Future | None = None  # the move to the slow lane, once ``slow_after`` passed


@dataclass
class _Entry:
    row: Delivery
    result: Attempt | None
    woken: asyncio.Future  # resolved once written, or when it is this entry's turn to write
    written: bool = False


class _Ledger:
    """Writes outcomes as they come, many per transaction (a group commit).

    Each caller waits until its own outcome is written; when nobody is writing, a caller
    writes everything that queued up meanwhile, so a slow commit makes the next one bigger
    instead of making everyone wait in line.  A commit wakes every caller it wrote for at
    once, and hands the next write to the first caller still waiting.  (A lock passed them
    on one per turn of the event loop instead: the hundredth row of a commit went on holding
    its lane slot for a hundred turns after its outcome was written, and the next commit
    waited behind them all.)
    """

    def __init__(self, write) -> None:
        self._write = write
        self._waiting: list[_Entry] = []
        self._writing = False  # a caller is writing, or has been handed the next write

    async def record(self, row: Delivery, result: Attempt | None) -> None:
        entry = _Entry(row, result, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        if self._writing:
            try:
                await entry.woken
            except asyncio.CancelledError:
                # A caller cancelled while it waits leaves its outcome queued for the next writer
                # (as before); one that was handed the write as it was cancelled passes it on.
                if entry.woken.done() and not entry.woken.cancelled() and not entry.written:
                    self._writing = self._hand_over()
                raise
            if entry.written:
                return
        self._writing = True
        batch, self._waiting = self._waiting, []
        try:
            await self._write([e.row for e in batch], [e.result for e in batch])
        except BaseException:
            self._waiting[:0] = [e for e in batch if e is not entry]  # the next writer tries them
            raise
        else:
            for e in batch:
                e.written = True
                if not e.woken.done():
                    e.woken.set_result(None)
        finally:
            self._writing = self._hand_over()

    def _hand_over(self) -> bool:
        """Wake the first caller still waiting to write what is queued; False if there is none."""
        for e in self._waiting:
            if not e.woken.done():
                e.woken.set_result(None)
                return True
        return False


async def _track_hosts(session, succeeded: set[str], failed: set[str], now: datetime) -> None:
    """Any success clears a host's failure days; failures add today's date (UTC)."""
    await ledger.clear_host_failures(session, succeeded, now)
    if not failed:
        return
    known = await ledger.hosts_to_update(session, failed)
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
