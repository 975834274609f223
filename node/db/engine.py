"""Opening the database: the async engine, its session factory and migrations.

SQLite is the embedded default and is tuned here (WAL, foreign keys, a busy
timeout), through aiosqlite's thread with one trip per statement and this process's
writers queued (``node.db.sqlite_driver``); PostgreSQL through asyncpg needs nothing
special.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from node.db import sqlite_driver
from node.db.sqlite_driver import WriteGate

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(database_url: str, *, busy_timeout: float = 30) -> AsyncEngine:
    """Create the engine for ``database_url`` with the right per-backend settings.

    ``busy_timeout`` is how many seconds a statement waits for SQLite's lock (and a
    request for a pooled PostgreSQL connection) before it fails; the web layer
    answers that failure 503 (``node.db.busy``).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            create_private_file(Path(url.database))
        if url.database and url.database != ":memory:" and not url.query:
            # The connection of node.db.sqlite_driver, with sqlite3.connect's arguments as the dialect
            # would pass them (a creator replaces them), and one write gate for the engine's connections.
            connect = sqlite_driver.connector(url.database, WriteGate(busy_timeout), timeout=busy_timeout)
            # Ten kept open: 64 concurrent inbox requests, the writer and the processor need more than
            # the default five at times, and each connection opened anew costs a thread and its pragmas.
            engine = create_async_engine(url, async_creator=connect, pool_size=10, max_overflow=10)
        else:
            engine = create_async_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine.sync_engine, "connect",
                     lambda connection, record: _sqlite_pragmas(connection, record, busy_timeout))
        return engine
    # lock_timeout: a statement waiting longer than busy_timeout for a lock fails (55P03,
    # answered 503) instead of holding its request forever, as SQLite's busy timeout does.
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=busy_timeout,
        connect_args={"server_settings": {"lock_timeout": str(int(busy_timeout * 1000))}},
    )


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and readable by its owner only (0600), unless it exists.

    The database holds followers-only and direct replies, so like the keys it is private.
    SQLite gives its -wal and -shm files the database file's permissions.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _sqlite_pragmas(dbapi_connection, _record, busy_timeout: float = 30) -> None:
    # WAL lets readers (page views) run while the inbox writes; NORMAL sync is
    # durable across application crashes in WAL mode, which is what we promise.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    """Sessions that keep loaded attributes after commit (no lazy reloads under asyncio)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (all migrations by default); safe to repeat."""

    def run(sync_connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    def read(sync_connection):
        return MigrationContext.configure(sync_connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
