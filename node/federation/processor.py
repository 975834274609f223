"""Applying stored activities, after the inbox has answered.

The inbox stores each accepted activity with status ``received`` and answers
202; this processor applies it through ``handlers.DISPATCH`` in its own
transaction and records the outcome on the row.  Because the row is written
before the 202, a crash loses nothing: on start, every row still ``received``
is applied again (handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from node.db.models import Activity
from node.db.types import utcnow
from node.federation import handlers
from node.federation.background import cancel

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.processor")


class Processor:
    """Applies received activities one at a time, in arrival order."""

    def __init__(self, node: "Node") -> None:
        self.node = node
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        handlers.load_all()

    def notify(self, row_id: int) -> None:
        """Schedule a freshly stored activity."""
        self._idle.clear()
        self.queue.put_nowait(row_id)

    async def start(self) -> None:
        """Queue every activity left ``received`` (by a crash) and start applying."""
        async with self.node.sessions() as session:
            pending = (await session.scalars(
                select(Activity.id).where(Activity.status == "received", Activity.is_local.is_(False)).order_by(Activity.id)
            )).all()
        for row_id in pending:
            self.notify(row_id)
        self._task = asyncio.create_task(self._run(), name="fednode-processor")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def drain(self) -> None:
        """Wait until everything queued so far has been applied (used by tests and the CLI)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            row_id = await self.queue.get()
            try:
                if (await self.apply(row_id)).startswith("applied"):
                    self.node.wake_delivery()  # an Accept (or an announce) may have been queued
            except Exception:  # one bad activity must not stop the others
                log.exception("applying activity row %s failed", row_id)
            if self.queue.empty():
                self._idle.set()

    async def apply(self, row_id: int) -> str:
        """Apply one stored activity and record the outcome; returns it."""
        try:
            async with self.node.sessions.begin() as session:
                row = await session.get(Activity, row_id)
                if row is None or row.status != "received":
                    return "skipped"
                handler = handlers.handler_for(row.raw)
                outcome = "ignored: nothing handles this" if handler is None else await handler(
                    handlers.HandlerContext(self.node, session, row)
                )
                applied = outcome.startswith("applied")
                row.status = "applied" if applied else "ignored"
                row.error = None if outcome == "applied" else outcome
                row.processed_at = utcnow()
                return outcome
        except Exception as exc:
            async with self.node.sessions.begin() as session:
                row = await session.get(Activity, row_id)
                if row is not None:
                    row.status = "failed"
                    row.error = f"{exc.__class__.__name__}: {exc}"[:2000]
                    row.processed_at = utcnow()
            raise
