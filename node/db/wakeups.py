"""Wake-ups between processes on PostgreSQL: ``NOTIFY`` when work is queued, ``LISTEN`` to hear it.

A process that queues deliveries calls ``announce(session, DELIVERIES)`` inside the
transaction that writes them (and the inbox ``announce(session, ACTIVITIES)`` for the
received activities it stores, which wakes the processors); PostgreSQL sends the notification only if and when that
transaction commits, so a listener never looks for rows it cannot see yet.  Every
process's ``Wakeups`` listens on one dedicated connection and calls the callbacks
registered for the channel (a worker's ``wake``), so a delivery queued by a web process
is picked up by a worker process at once instead of at its next poll.  The polls stay
as the safety net: a notification lost while a listener reconnects delays work by one
poll interval, never loses it.  On SQLite (one process) this is all a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("fednode.wakeups")

DELIVERIES = "fednode_deliveries"  # delivery rows were queued or made due
ACTIVITIES = "fednode_activities"  # received activities were stored
RECONNECT_SECONDS = 5.0


async def announce(session: AsyncSession, channel: str) -> None:
    """Tell every listening process, when this transaction commits, that ``channel`` has work."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class Wakeups:
    """One LISTEN connection per process, calling back whoever registered for a channel."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.enabled = url.get_backend_name() == "postgresql"
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False) if self.enabled else ""
        self._callbacks: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._task: asyncio.Task | None = None
        self._connection = None  # the asyncpg connection while listening
        self.connected = asyncio.Event()  # for tests and /readyz-like checks: listening now

    def on(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments, must not block) whenever ``channel`` is notified."""
        new = channel not in self._callbacks
        self._callbacks[channel].append(callback)
        if new and self._connection is not None:
            self._connection_task = asyncio.ensure_future(self._connection.add_listener(channel, self._heard))
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._listen(), name="fednode-wakeups")

    def _heard(self, connection, pid, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            callback()

    async def _listen(self) -> None:
        import asyncpg

        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _: closed.set())
                for channel in list(self._callbacks):
                    await connection.add_listener(channel, self._heard)
                self._connection = connection
                self.connected.set()
                # Work queued while we were not listening: look once now.
                for callbacks in self._callbacks.values():
                    for callback in callbacks:
                        callback()
                await closed.wait()
                log.warning("lost the LISTEN connection; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarting: keep trying, the polls cover the gap
                log.warning("cannot LISTEN for wake-ups (%s); retrying in %.0f s", exc.__class__.__name__,
                            RECONNECT_SECONDS)
            finally:
                self._connection = None
                self.connected.clear()
                if connection is not None and not connection.is_closed():
                    await connection.close(timeout=2)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
