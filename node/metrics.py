"""Prometheus metrics of one node process (served at ``/metrics`` by ``node.web.health``).

Two kinds of figures:

- counters this process keeps as things happen: inbox answers by status and outcome,
  delivery attempts by outcome, failed attempts per remote host, outgoing fetches by
  outcome, thread crawls and the requests they spent of their budgets;
- gauges read from the database at scrape time (``node.db.stats``): the delivery queue
  (depth, due, age of the oldest due row), the apply backlog and its lag, failing and
  unavailable hosts, scheduled and due crawls, the moderation queue.  Every process shares the database, so
  these are the node's figures whichever process answers.

Each node gets its own registry (tests run many nodes in one interpreter; a global
registry would mix them up).  The standard process collector adds memory and CPU.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.process_collector import ProcessCollector

from node.db import stats
from node.db.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from node.federation.crawl import CrawlReport

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the text format: "text/plain; version=...; charset=utf-8"


class Metrics:
    """The registry of one node and the instruments the rest of the code feeds."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        self.inbox_requests = Counter(
            "fednode_inbox_requests", "Inbox requests answered by this process, by HTTP status and outcome.",
            ["status", "outcome"], registry=r)
        self.delivery_attempts = Counter(
            "fednode_delivery_attempts",
            "Delivery attempts by this process, by outcome: delivered, retry (will be tried again), "
            "failed (given up), paused (host's circuit breaker open, not sent).",
            ["outcome"], registry=r)
        self.host_failures = Counter(
            "fednode_delivery_host_failures", "Failed delivery attempts by this process, by remote host.",
            ["host"], registry=r)
        self.fetches = Counter(
            "fednode_fetches", "Outgoing GETs (documents, keys, collections) by this process, by outcome.",
            ["outcome"], registry=r)
        self.crawls = Counter(
            "fednode_crawls", "Thread crawls finished by this process, by how they ended "
            "(complete, or the budget that cut them short).", ["ended"], registry=r)
        self.crawl_requests = Counter(
            "fednode_crawl_requests", "Requests spent by thread crawls (each within a per-host budget).",
            registry=r)
        self.crawl_hosts_exhausted = Counter(
            "fednode_crawl_hosts_exhausted", "Times a crawl used up a host's request budget.", registry=r)
        # Read from the database at scrape time.
        self.delivery_rows = Gauge(
            "fednode_delivery_queue_rows", "Deliveries in the database, by state (pending, delivered, failed).",
            ["status"], registry=r)
        self.delivery_due = Gauge(
            "fednode_delivery_queue_due", "Pending deliveries whose time has come (the queue depth now).",
            registry=r)
        self.delivery_oldest_due = Gauge(
            "fednode_delivery_oldest_due_age_seconds",
            "How long the oldest due delivery has been waiting past its time (0 when none is due).", registry=r)
        self.apply_waiting = Gauge(
            "fednode_apply_waiting", "Received activities not applied yet.", registry=r)
        self.apply_lag = Gauge(
            "fednode_apply_lag_seconds", "Age of the oldest received activity not applied yet (0 when none).",
            registry=r)
        self.hosts = Gauge(
            "fednode_hosts", "Remote hosts by delivery health: failing (last attempt failed), "
            "unavailable (failed on 7 distinct days, skipped).", ["state"], registry=r)
        self.crawls_scheduled = Gauge(
            "fednode_crawls_scheduled", "Threads with a crawl scheduled, and those whose crawl is due.",
            ["state"], registry=r)
        self.moderation_queue = Gauge(
            "fednode_moderation_queue", "What waits for a moderator: held comments, open reports.",
            ["kind"], registry=r)
        self._scrape = asyncio.Lock()

    # --- fed by the rest of the node --------------------------------------------------------

    def inbox_answered(self, status: int, outcome: str) -> None:
        self.inbox_requests.labels(str(status), outcome).inc()

    def delivery_attempted(self, outcome: str, host: str | None = None) -> None:
        self.delivery_attempts.labels(outcome).inc()
        if outcome in ("retry", "failed") and host is not None:
            self.host_failures.labels(host).inc()

    def fetched(self, outcome: str) -> None:
        self.fetches.labels(outcome).inc()

    def crawled(self, report: "CrawlReport") -> None:
        self.crawls.labels(report.cut_short or "complete").inc()
        self.crawl_requests.inc(sum(report.requests.values()))
        self.crawl_hosts_exhausted.inc(len(report.exhausted_hosts))

    # --- the scrape -------------------------------------------------------------------------

    async def render(self, sessions: "async_sessionmaker") -> bytes:
        """The Prometheus text exposition, with the database gauges read now."""
        async with self._scrape:  # concurrent scrapes share one set of gauges: one at a time
            now = utcnow()
            async with sessions() as session:
                snap = await stats.queue_snapshot(session, now)
            for status in ("pending", "delivered", "failed"):
                self.delivery_rows.labels(status).set(snap.deliveries_by_status.get(status, 0))
            self.delivery_due.set(snap.deliveries_due)
            self.delivery_oldest_due.set(_age(now, snap.oldest_due_at))
            self.apply_waiting.set(snap.apply_waiting)
            self.apply_lag.set(_age(now, snap.oldest_waiting_at))
            self.hosts.labels("failing").set(snap.hosts_failing)
            self.hosts.labels("unavailable").set(snap.hosts_unavailable)
            self.crawls_scheduled.labels("scheduled").set(snap.crawls_scheduled)
            self.crawls_scheduled.labels("due").set(snap.crawls_due)
            self.moderation_queue.labels("held_comments").set(snap.held_comments)
            self.moderation_queue.labels("open_reports").set(snap.open_reports)
            return generate_latest(self.registry)


def _age(now, moment) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
