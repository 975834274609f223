"""Pulling what never reached us: reading the remote collections of a thread.

A reply to a remote comment is addressed to that comment's author, not to us,
unless someone mentions us.  So the node crawls: a minute after a comment
arrives, and then on a decaying schedule, it reads the ``replies`` collection
of every remote object in the thread (and the thread's remote ``context``
collections, FEP-7888/f228) and stores what it finds through the same checks
as the inbox:

* every item is fetched from its own origin (``Fetcher.get_activitypub``: the
  id must be the URL), except an item embedded in a collection page served by
  its own origin, which that origin vouches for (rule R6 in ``origin.py``);
* its author must share its origin (``comments.author_of``);
* it joins a thread only by its ``inReplyTo`` chain (``comments.take_reply``):
  being listed in a collection, or naming a ``context``, proves nothing.

Budgets bound what one crawl may cost (after Mastodon's fetch-all-replies limits,
``app/services/activitypub/fetch_all_replies_service.rb``): ``MAX_ITEMS`` new items, ``MAX_PAGES``
pages per collection, ``MAX_DEPTH`` levels of replies found during the crawl,
``MAX_REQUESTS_PER_HOST`` requests to any one host.  A host that fails
(5xx, 429, timeout, refused connection) is left alone for the rest of the crawl.
Our own collections are never fetched: we hold those objects already (R7).

The schedule lives in the database (``CrawlState``, one row per thread root),
so a restart keeps it; the crawler of a running server crawls due threads one
at a time.
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import aclosing
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from node.db import crawl as db
from node.db import queries
from node.db.models import CrawlState, Object
from node.db.types import utcnow
from node.errors import BadStatus, FetchError, InvalidDocument, NodeError, OriginMismatch
from node.federation import comments
from node.federation.background import cancel
from node.federation.netguard import same_origin
from node.federation.outcomes import Outcome
from node.federation.resolve import Resolved, resolve_then_apply
from node.federation.vocab import as_list, get_id

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.crawl")

# --- budgets of one crawl (Mastodon's FetchAllRepliesService allows 500 per status, 1000 in all) ---
MAX_ITEMS = 500               # items not yet in the thread looked at
MAX_PAGES = 20                # pages read per collection
MAX_DEPTH = 8                 # levels of replies below what the thread held when the crawl began
MAX_REQUESTS_PER_HOST = 100   # GETs to one host (collections, pages, objects, authors, ancestors)
MAX_UNWRAP = 2                # Create/Add wrappers opened to reach a post in a context collection

# --- the schedule -----------------------------------------------------------------------------
FIRST_DELAY = timedelta(minutes=1)    # after a comment arrives (later comments coalesce into it)
MIN_INTERVAL = 5 * 60                 # seconds; the wait after a crawl that found something
MAX_INTERVAL = 24 * 60 * 60           # the wait doubles up to this after crawls that find nothing
GIVE_UP_AFTER = timedelta(days=7)     # no new comment for this long: stop crawling the thread
CLAIM_LEASE = timedelta(minutes=15)   # a claimed crawl that never finished (crash) is due again
POLL_SECONDS = 60                     # the loop looks at the schedule at least this often

COLLECTION_TYPES = frozenset({"Collection", "OrderedCollection", "CollectionPage", "OrderedCollectionPage"})
WRAPPER_TYPES = frozenset({"Create", "Add"})

# The thread being crawled in this task: storing its comments must not re-schedule it.
_CRAWLING: contextvars.ContextVar[int | None] = contextvars.ContextVar("fednode_crawling", default=None)


class Skipped(FetchError):
    """A request the crawl did not make: its host failed or used up its budget, or it is our own."""


def authority(url: str) -> str:
    """``host[:port]`` of a URL, lowercase: the unit of the per-host budget."""
    try:
        return (URL(url).host_port_subcomponent or "").lower()
    except (ValueError, TypeError):
        return ""


def _is_http(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(("https://", "http://"))


def _host_failure(exc: NodeError) -> bool:
    """Whether an error says the host is unwell (not just that one document is missing or bad)."""
    if isinstance(exc, BadStatus):
        return exc.status >= 500 or exc.status == 429
    return type(exc) is FetchError  # timeouts, refused or reset connections


@dataclass
class CrawlReport:
    """What one crawl of a thread did."""

    root_id: int
    found: int = 0            # comments stored (ancestors stored on the way included)
    waiting: int = 0          # replies parked: their parent could not be fetched yet
    refused: int = 0          # items fetched but refused (origin, type, outside our threads...)
    looked_at: int = 0        # items that were not in the thread yet
    collections: int = 0
    pages: int = 0
    requests: Counter = field(default_factory=Counter)       # per host
    failed_hosts: dict[str, str] = field(default_factory=dict)
    exhausted_hosts: set[str] = field(default_factory=set)   # hosts whose request budget ran out
    cut_short: str | None = None                             # the budget that ended the crawl early

    def error_text(self) -> str | None:
        """The failures, as kept in ``CrawlState.last_error`` (None when every host answered)."""
        if not self.failed_hosts:
            return None
        return "; ".join(f"{host}: {reason}" for host, reason in sorted(self.failed_hosts.items()))[:2000]


@dataclass
class _Source:
    """A collection to read: a URL or an embedded collection, and the document it was named in."""

    ref: Any
    named_in: str  # the id of the (fetched or stored) document whose property this is
    level: int     # 0: the thread as it was; n: found n levels below it in this crawl


class _Run:
    """One crawl of one thread."""

    def __init__(self, node: "Node", report: CrawlReport) -> None:
        self.node = node
        self.report = report
        self.known: set[str] = set()  # ids held in the thread, or already looked at in this crawl

    async def fetch(self, url: str, *, signed: bool = True) -> dict[str, Any]:
        """``get_activitypub`` within the budgets; Skipped when the request is not to be made."""
        report = self.report
        if not _is_http(url):
            raise Skipped("not an http(s) URL")
        if same_origin(url, self.node.settings.base):
            raise Skipped("our own host: never fetched")  # R7; the fetcher refuses it too
        host = authority(url)
        if host in report.failed_hosts:
            raise Skipped(f"{host} failed earlier in this crawl")
        if report.requests[host] >= MAX_REQUESTS_PER_HOST:
            report.exhausted_hosts.add(host)
            raise Skipped(f"{host} used its {MAX_REQUESTS_PER_HOST} requests for this crawl")
        report.requests[host] += 1
        try:
            return await self.node.fetcher.get_activitypub(url, signed=signed)
        except FetchError as exc:
            if _host_failure(exc):
                report.failed_hosts.setdefault(host, exc.reason[:300])
            raise

    async def fetch_or_none(self, url: str) -> dict[str, Any] | None:
        try:
            return await self.fetch(url)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            if not isinstance(exc, Skipped):
                log.debug("crawl: could not fetch %s: %s", url, exc.reason)
            return None

    # --- reading collections --------------------------------------------------------------

    async def items(self, source: _Source) -> AsyncIterator[tuple[Any, str]]:
        """Each item of a collection with the URL of the document it was listed in, page by page."""
        ref = source.ref
        ident = get_id(ref)
        if isinstance(ref, dict) and (ident is None or same_origin(ident, source.named_in)):
            collection, base = ref, ident or source.named_in  # embedded by the server it belongs to
        elif _is_http(ident):
            collection, base = await self.fetch_or_none(ident), ident
        else:
            return
        if not isinstance(collection, dict) or collection.get("type") not in COLLECTION_TYPES:
            return
        self.report.collections += 1
        for item in _listed(collection):
            yield item, base
        page_ref, pages, seen_pages = collection.get("first"), 0, {base}
        while page_ref is not None and pages < MAX_PAGES:
            page_id = get_id(page_ref)
            if isinstance(page_ref, dict) and (page_id is None or same_origin(page_id, base)):
                page, page_base = page_ref, page_id or base
            elif _is_http(page_id) and page_id not in seen_pages:
                page, page_base = await self.fetch_or_none(page_id), page_id
            else:
                return
            if not isinstance(page, dict):
                return
            pages += 1
            self.report.pages += 1
            seen_pages.add(page_base)
            for item in _listed(page):
                yield item, page_base
            page_ref, base = page.get("next"), page_base

    # --- taking one item ------------------------------------------------------------------

    async def post_of(self, item: Any, listed_in: str) -> dict[str, Any] | None:
        """The post an item names, from its own origin (or as embedded by that origin)."""
        document = item
        for _ in range(MAX_UNWRAP + 1):
            ident = get_id(document)
            if not _is_http(ident):
                return None
            trusted = isinstance(document, dict) and same_origin(ident, listed_in)
            if not (trusted and _complete(document)):
                document = await self.fetch(ident)  # the item's own origin answers for it
                listed_in = ident
            if document.get("type") not in WRAPPER_TYPES:
                return document
            document = document.get("object")  # FEP-f228 contexts may list activities
        return None

    async def take(self, item: Any, listed_in: str) -> dict[str, Any] | None:
        """Store one listed item if it is a reply in one of our threads; the stored document or None."""
        report = self.report
        listed_id = get_id(item)
        try:
            document = await self.post_of(item, listed_in)
        except Skipped:
            return None
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            log.debug("crawl: %s refused: %s", get_id(item), exc.reason)
            report.refused += 1
            return None
        if document is None or document.get("type") not in comments.COMMENT_TYPES:
            report.refused += 1
            return None
        ident = document["id"]
        if (ident != listed_id and ident in self.known) or not comments.in_reply_to(document):
            return None  # a wrapper of something already seen, or a thread's root
        self.known.add(ident)

        async def store(session: AsyncSession, fetcher: Resolved) -> tuple[Outcome, int]:
            before = await db.last_object_id(session)
            author = await comments.author_of(fetcher, session, document)
            outcome = await comments.take_reply(self.node, session, document, author, fetcher=fetcher)
            return outcome, await db.objects_after(session, before)

        try:
            # Ancestors and authors are fetched (within this crawl's budgets) between tries, never
            # while the transaction is open.
            outcome, stored = await resolve_then_apply(self.node.sessions, self.fetch, store)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            log.debug("crawl: %s refused: %s", ident, exc.reason)
            report.refused += 1
            return None
        except Exception:  # one bad item (a race with the inbox, a broken document) must not stop the crawl
            log.exception("crawl: storing %s failed", ident)
            report.refused += 1
            return None
        if outcome.is_applied:
            report.found += stored
            return document
        if outcome.wrote:
            report.waiting += 1
        elif outcome.reason != comments.ALREADY_STORED:
            report.refused += 1
        return None

    async def crawl(self, sources: Sequence[_Source]) -> None:
        queue = deque(sources)
        while queue:
            source = queue.popleft()
            async with aclosing(self.items(source)) as listed:
                async for item, listed_in in listed:
                    ident = get_id(item)
                    if not _is_http(ident) or ident in self.known:
                        continue
                    if same_origin(ident, self.node.settings.base):
                        continue  # ours: held already, or forged
                    if self.report.looked_at >= MAX_ITEMS:
                        self.report.cut_short = f"{MAX_ITEMS} items"
                        return
                    self.report.looked_at += 1
                    self.known.add(ident)
                    async with self.node.sessions() as session:
                        if await comments.is_tombstoned(session, ident) or await queries.get_object(session, ident):
                            continue
                    stored = await self.take(item, listed_in)
                    if stored is not None and source.level + 1 < MAX_DEPTH:
                        more = replies_source(stored, source.level + 1, self.node.settings.base)
                        if more is not None:
                            queue.append(more)


def _listed(collection: dict[str, Any]) -> list[Any]:
    return as_list(collection.get("orderedItems")) + as_list(collection.get("items"))


def _complete(document: dict[str, Any]) -> bool:
    """Whether an embedded post carries what we store (else it is fetched by its id)."""
    if document.get("type") in WRAPPER_TYPES:
        return document.get("object") is not None
    return bool(document.get("attributedTo")) and document.get("type") is not None


def replies_source(document: dict[str, Any], level: int, own_base: str) -> _Source | None:
    """The ``replies`` collection of a remote post, to read (None when it has none, or it is ours)."""
    ident, replies = document.get("id"), document.get("replies")
    if not isinstance(ident, str) or replies is None or same_origin(ident, own_base):
        return None
    if same_origin(get_id(replies) or ident, own_base):
        return None
    return _Source(replies, ident, level)


def context_of(document: dict[str, Any], own_base: str) -> str | None:
    """The remote ``context`` a post names, when it is an http(s) URL that is not ours."""
    context = get_id(document.get("context"))
    if not _is_http(context) or same_origin(context, own_base):
        return None
    return context


class Crawler:
    """Crawls the threads whose turn has come, one at a time, and keeps their schedule."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._sleeping_until: datetime | None = None  # when the loop looks at the schedule next
        self._lock = asyncio.Lock()

    # --- the schedule -------------------------------------------------------------------

    async def schedule(self, root_id: int, *, session: AsyncSession | None = None) -> None:
        """Crawl this thread soon (in ``FIRST_DELAY``; repeated calls coalesce) and reset its wait.

        With ``session``, the request is part of that transaction (the comment that
        caused it is stored in it). Comments stored by the crawl of this very
        thread do not re-schedule it: the crawl's result decides the next turn.
        """
        await self.schedule_many([root_id], session=session)

    async def schedule_many(self, root_ids: Iterable[int], *, session: AsyncSession | None = None) -> None:
        """``schedule`` for several threads at once (two statements, whatever their number)."""
        root_ids = sorted({root_id for root_id in root_ids if root_id != _CRAWLING.get()})
        if not root_ids:
            return
        if session is None:
            async with self.node.sessions.begin() as own:
                soon = await self._request(own, root_ids)
        else:
            soon = await self._request(session, root_ids)
        if self._sleeping_until is None or soon < self._sleeping_until:
            self._wake.set()  # the loop would otherwise look too late (busy threads don't wake it each time)

    async def _request(self, session: AsyncSession, root_ids: list[int]) -> datetime:
        now = utcnow()
        soon = now + FIRST_DELAY
        await db.request_crawls(session, self.node.engine, root_ids, now=now, soon=soon,
                                interval_seconds=MIN_INTERVAL)
        return soon

    # --- crawling -------------------------------------------------------------------------

    async def crawl(self, root_id: int) -> CrawlReport:
        """Crawl one thread now (whatever its schedule says) and record the result."""
        async with self._lock:
            return await self._crawl(root_id)

    async def run_once(self, now: datetime | None = None) -> CrawlReport | None:
        """Crawl the thread whose turn came first (at ``now``), if any; None when none is due."""
        now = now or utcnow()
        async with self._lock:
            async with self.node.sessions.begin() as session:
                state = await db.first_due(session, now)
                if state is None:
                    return None
                # Claim it: another process crawling the same database skips it; a crash retries later.
                if not await db.claim(session, state, utcnow() + CLAIM_LEASE):
                    return None
                root_id = state.root_id
            return await self._crawl(root_id)

    async def _crawl(self, root_id: int) -> CrawlReport:
        started = utcnow()
        report = CrawlReport(root_id)
        run = _Run(self.node, report)
        async with self.node.sessions() as session:
            root = await queries.get_object_by_id(session, root_id)
            thread = list(await queries.list_thread(session, root_id)) if root is not None else []
        if root is not None and root.deleted_at is None:
            run.known = {root.ap_id, *(c.ap_id for c in thread)}
            token = _CRAWLING.set(root_id)
            try:
                await run.crawl(thread_sources(root, thread, self.node.settings.base))
            finally:
                _CRAWLING.reset(token)
        await self._record(root_id, report, started, gone=root is None, stopped=root is None or root.deleted_at is not None)
        self.node.metrics.crawled(report)
        log.info("crawled thread %s: %s found, %s waiting, %s refused, %s requests%s", root_id, report.found,
                 report.waiting, report.refused, sum(report.requests.values()),
                 f"; failed: {report.error_text()}" if report.failed_hosts else "")
        return report

    async def _record(self, root_id: int, report: CrawlReport, started: datetime, *, gone: bool, stopped: bool) -> None:
        """Keep what the crawl found and decide the thread's next turn."""
        async with self.node.sessions.begin() as session:
            if gone:
                await db.drop_crawl_state(session, root_id)
                return
            state = await db.crawl_state(session, root_id)
            now = utcnow()
            if state is None:
                state = CrawlState(root_id=root_id, interval_seconds=MIN_INTERVAL, last_activity_at=started,
                                   created_at=now)
                session.add(state)
            state.last_crawled_at = now
            state.last_found = report.found
            state.last_error = report.error_text()
            arrived = state.last_activity_at is not None and state.last_activity_at > started  # during the crawl
            if report.found:
                state.last_activity_at = now
            if report.found or arrived or report.cut_short or report.exhausted_hosts:
                wait = MIN_INTERVAL  # something is moving, or there is more to read
                state.interval_seconds = min(2 * MIN_INTERVAL, MAX_INTERVAL)
            else:
                wait = state.interval_seconds or MIN_INTERVAL
                state.interval_seconds = min(2 * wait, MAX_INTERVAL)
            if stopped or now - (state.last_activity_at or started) > GIVE_UP_AFTER:
                state.next_crawl_at = None
            else:
                state.next_crawl_at = now + timedelta(seconds=wait)

    # --- the background loop --------------------------------------------------------------

    async def start(self) -> None:
        """Start crawling due threads in the background."""
        self._task = asyncio.create_task(self._run(), name="fednode-crawler")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if await self.run_once() is not None:
                    continue
                wait = await self._seconds_to_next()
            except asyncio.CancelledError:
                raise
            except Exception:  # one broken crawl must not stop the others
                log.exception("crawling failed")
                wait = POLL_SECONDS
            self._wake.clear()
            pause = max(0.05, min(wait, POLL_SECONDS))
            self._sleeping_until = utcnow() + timedelta(seconds=pause)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except TimeoutError:
                pass
            self._sleeping_until = None

    async def _seconds_to_next(self) -> float:
        async with self.node.sessions() as session:
            due = await db.next_turn(session)
        return POLL_SECONDS if due is None else (due - utcnow()).total_seconds()


def thread_sources(root: Object, thread: Sequence[Object], own_base: str) -> list[_Source]:
    """What a crawl of this thread reads: the remote ``context`` collections first (one lists a whole
    thread, FEP-f228), then the ``replies`` of the remote root, then of remote comments, newest first."""
    contexts: dict[str, _Source] = {}
    replies: list[_Source] = []
    for obj in [root, *sorted(thread, key=lambda c: (c.published, c.id), reverse=True)]:
        if obj.is_local or obj.deleted_at is not None or not isinstance(obj.raw, dict):
            continue
        context = context_of(obj.raw, own_base)
        if context is not None and context not in contexts:
            contexts[context] = _Source(context, obj.ap_id, 0)
        source = replies_source(obj.raw, 0, own_base)
        if source is not None:
            replies.append(source)
    return [*contexts.values(), *replies]

