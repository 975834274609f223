"""The aiohttp application: built by ``create_app(settings)``, owning every resource it opens."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from node.config import Settings
from node.db.engine import make_engine, make_sessionmaker, upgrade
from node.services.setup import ensure_site
from node.urls import Urls

log = logging.getLogger("fednode")
# Alembic narrates every migration step at INFO; the node says what matters itself.
logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass
class Node:
    """What every handler needs: settings, URL builders and the database."""

    settings: Settings
    urls: Urls
    engine: AsyncEngine
    sessions: async_sessionmaker
    extras: dict = field(default_factory=dict)


NODE = web.AppKey("node", Node)


async def open_node(settings: Settings, *, migrate: bool = True) -> Node:
    """Open the database (migrating it) and make sure the site's actors exist."""
    engine = make_engine(settings.database_url)
    if migrate:
        await upgrade(engine)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        await ensure_site(session, settings)
    return Node(settings=settings, urls=Urls(settings.base), engine=engine, sessions=sessions)


def create_app(settings: Settings) -> web.Application:
    """Build the web application for ``settings``; resources open on startup and close on cleanup."""
    from node.web.middleware import error_middleware, security_headers_middleware
    from node.web.routes import add_routes

    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[error_middleware, security_headers_middleware],
    )

    async def node_lifecycle(app: web.Application) -> AsyncIterator[None]:
        node = await open_node(settings)
        app[NODE] = node
        log.info("node ready at %s (database %s)", settings.base, node.engine.url.render_as_string())
        yield
        await node.engine.dispose()

    app.cleanup_ctx.append(node_lifecycle)
    add_routes(app)
    return app
