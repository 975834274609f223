"""The aiohttp application: built by ``create_app(settings)``, owning every resource it opens."""

from __future__ import annotations

import contextlib
import gc
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from node import __version__
from node.config import Settings
from node.db import wakeups
from node.db.engine import make_engine, make_sessionmaker, upgrade
from node.db.wakeups import Wakeups
from node.federation.actors import KeyResolver
from node.federation.actor_updates import send_changed_actors
from node.federation.crawl import Crawler
from node.federation.delivery import DeliveryWorker
from node.federation.fetch import Fetcher, FetchPolicy
from node.federation.inbox import Inbox
from node.federation.processor import Processor
from node.federation.signing import instance_signer
from node.federation.signpool import SignPool, auto_processes
from node.metrics import Metrics
from node.moderation.gate import Gate
from node.services.setup import ensure_site
from node.site import SiteCache
from node.urls import Urls

if TYPE_CHECKING:
    from node.api.webhooks import WebhookSender
    from node.moderation.decide import Decider

log = logging.getLogger("fednode")
# Alembic narrates every migration step at INFO; the node says what matters itself.
logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass
class Node:
    """What every handler needs: settings, URL builders, the database and the federation parts."""

    settings: Settings
    urls: Urls
    engine: AsyncEngine
    sessions: async_sessionmaker
    fetcher: Fetcher
    resolver: KeyResolver
    inbox: Inbox
    processor: "Processor | None" = None  # in serve and worker processes (start_background)
    delivery: "DeliveryWorker | None" = None  # when this process delivers (serve, worker)
    crawler: "Crawler | None" = None  # reads remote threads' collections (serve and worker: start_background)
    metrics: Metrics = field(default_factory=Metrics)  # this process's Prometheus registry
    gate: "Gate | None" = None  # suspended domains and banned actors (node.moderation.gate)
    decider: "Decider | None" = None  # the moderation policy and its caches, on first use (node.moderation.decide)
    wakeups: "Wakeups | None" = None  # LISTEN/NOTIFY between processes (PostgreSQL)
    site: "SiteCache | None" = None  # the site settings in force: config overridden by the admin's (node.site)
    webhooks: "WebhookSender | None" = None  # site owners' webhooks, sent beside the deliveries (node.api.webhooks)

    async def close(self) -> None:
        """Stop the background work and release the HTTP client and the database connections."""
        await self.inbox.writer.close()  # requests already accepted get their commit
        from node.members import mail

        await mail.drain()  # e-mail already promised to someone (a reset link) still goes out
        if self.delivery is not None:
            await self.delivery.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.processor is not None:
            await self.processor.stop()
        if self.crawler is not None:
            await self.crawler.stop()
        if self.wakeups is not None:
            await self.wakeups.close()
        await self.fetcher.close()  # and with it the signing processes (fetcher.sign_pool)
        await self.engine.dispose()

    async def start_background(self, *, deliver: bool) -> None:
        """Start what a running node does besides answering requests, the same in ``serve`` and ``worker``:
        the crawler, the processor (fed by this process's inbox, and polling for rows stored by
        others) and, with ``deliver``, the delivery worker."""
        self.crawler = Crawler(self)  # comments applied here schedule their thread's backfill
        await self.crawler.start()
        self.processor = Processor(self)
        self.inbox.on_stored = self.processor.notify
        await self.processor.start()
        if deliver:
            await self.start_delivery()

    async def start_delivery(self) -> "DeliveryWorker":
        """Start delivering queued activities from this process."""
        settings = self.settings
        self.delivery = DeliveryWorker(
            self, concurrency=settings.delivery_concurrency, per_host=settings.delivery_per_host,
            lease_seconds=settings.delivery_lease_seconds, slow_lane=settings.delivery_slow_lane,
        )
        await self.delivery.start()
        from node.api.webhooks import WebhookSender  # site owners' webhooks go out beside the deliveries

        self.webhooks = WebhookSender(self)
        await self.webhooks.start()
        if self.wakeups is not None:  # deliveries queued by other processes wake this worker at once
            self.wakeups.on(wakeups.DELIVERIES, self.delivery.wake)
        return self.delivery

    def wake_webhooks(self) -> None:
        """Tell this process's webhook sender (if any) that webhook deliveries are queued."""
        if self.webhooks is not None:
            self.webhooks.wake()

    def wake_delivery(self) -> None:
        """Tell this process's worker (if any) that new deliveries are queued."""
        if self.delivery is not None:
            self.delivery.wake()


def freeze_startup_heap() -> None:
    """Exempt what the process allocated while starting from the cyclic garbage collector.

    Modules, the ORM's mappings, aiohttp, settings: some 130,000 objects that live as long as
    the process.  Without this every full collection walks all of them again, 50-80 ms of CPU
    each (a fan-out of 1,000 deliveries paid one, 0.07 ms a delivery).  ``gc.freeze`` moves
    them to a generation the collector never scans; garbage is collected first so that none
    is kept for good.  Called once by ``fednode serve`` and ``fednode worker`` when ready.
    """
    gc.collect()
    gc.freeze()


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The outgoing-request guard for these settings (never our own host)."""
    return FetchPolicy(
        allow_http=settings.allow_http,
        allow_private_network=settings.allow_private_network,
        own_hosts=frozenset({settings.host}),
        blocked_domains=tuple(settings.blocked_domains),
    )


NODE = web.AppKey("node", Node)



async def open_node(settings: Settings, *, migrate: bool = True) -> Node:
    """Open the database (migrating it) and make sure the site's actors exist."""
    engine = make_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
    if migrate:
        await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        await ensure_site(session, settings)
    # RSA signing holds the GIL: signing processes (started on first use) keep it off the event loop.
    processes = auto_processes(settings.signing_processes)
    sign_pool = SignPool(settings.keys_dir, processes) if processes > 0 else None
    fetcher = Fetcher(
        fetch_policy(settings), signer=instance_signer(settings, sign_pool),
        user_agent=f"Fednode/{__version__} (+{settings.base}/)", sign_pool=sign_pool,
        # Both delivery lanes full, and room for fetches beside them.
        connection_limit=settings.delivery_concurrency + settings.delivery_slow_lane + 64,
    )
    resolver = KeyResolver(fetcher, sessions, local_host=settings.host)
    inbox = Inbox(sessions, resolver, blocked_domains=settings.blocked_domains)
    metrics = Metrics()
    fetcher.on_fetch = metrics.fetched
    inbox.gate = gate = Gate(sessions, config_blocked=settings.blocked_domains, fetcher=fetcher)
    await gate.refresh()  # suspended domains join the fetcher's blocked domains from the start
    site = SiteCache(settings, sessions)
    await site.refresh()
    return Node(
        settings=settings, urls=Urls(settings.base), engine=engine, sessions=sessions,
        fetcher=fetcher, resolver=resolver, inbox=inbox, metrics=metrics, gate=gate,
        wakeups=wakeups.Wakeups(settings.database_url), site=site,
    )


@contextlib.asynccontextmanager
async def opened_node(settings: Settings) -> AsyncIterator[Node]:
    """``open_node`` for one command: the node is closed when the block ends."""
    node = await open_node(settings)
    try:
        yield node
    finally:
        await node.close()


async def warn_if_base_moved(node: Node) -> None:
    """Warn when the database's site actor was made under another public URL than ``base_url``.

    Ids are stored absolute, so a node whose public URL changed (a development node started on
    another port, or an edited base_url) keeps serving links to the old address.
    """
    from node.db import queries

    async with node.sessions() as session:
        site = await queries.get_local_actor(session, node.settings.site_username)
    if site is not None and not site.ap_id.startswith(node.settings.base + "/"):
        log.warning(
            "this database was made for another public URL (%s), not %s: stored ids and links keep the old "
            "address; serve it at the old address (same listen_port for a development node) or use a new folder",
            site.ap_id.removesuffix(Urls("").actor(node.settings.site_username)), node.settings.base,
        )


def create_app(settings: Settings) -> web.Application:
    """Build the web application for ``settings``; resources open on startup and close on cleanup."""
    from node.web.authfetch import authorized_fetch_middleware
    from node.web.cors import cors_middleware
    from node.web.middleware import (error_middleware, request_id_middleware, security_headers_middleware,
                                     site_settings_middleware)
    from node.web.routes import add_routes
    from node.web.session import session_middleware

    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[request_id_middleware, cors_middleware, error_middleware, security_headers_middleware,
                     site_settings_middleware, authorized_fetch_middleware, session_middleware],
    )

    async def node_lifecycle(app: web.Application) -> AsyncIterator[None]:
        node = await open_node(settings)
        await node.start_background(deliver=False)
        await send_changed_actors(node)  # a renamed site reaches its followers (queued, delivered below)
        if settings.run_worker:
            await node.start_delivery()
        app[NODE] = node
        await warn_if_base_moved(node)
        log.info("node ready at %s (database %s)", settings.base, node.engine.url.render_as_string())
        yield
        await node.close()

    app.cleanup_ctx.append(node_lifecycle)
    add_routes(app)
    return app
