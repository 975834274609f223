"""When a process's snapshot of some database rows must be read again, and one read at a time.

The moderation gate (``node.moderation.gate``) and the site settings (``node.site``) each keep a
snapshot that other processes may make stale; it is read again once it is older than its
maximum age.  The requests that find it old while it is being read wait for that read instead of
each starting its own (64 inbox senders used to make up to 64 reads of the same rows), and a
change this process makes while a read runs (``invalidate``) keeps that read from counting as
fresh, since it may have missed the change.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable


class Freshness:
    """The age of one snapshot, and the one read of it that runs at a time."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._read_at: float | None = None
        self._reading = asyncio.Lock()
        self._generation = 0  # counts invalidations

    def stale(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at > self.max_age

    def invalidate(self) -> None:
        """Read again before the next answer (this process just changed the rows)."""
        self._read_at = None
        self._generation += 1

    def generation(self) -> int:
        """Taken before a read, given back to ``read`` after it."""
        return self._generation

    def read(self, generation: int | None = None) -> None:
        """The snapshot was read now (begun at ``generation``: fresh only if nothing was invalidated since)."""
        fresh = generation is None or generation == self._generation
        self._read_at = self._clock() if fresh else None

    async def ensure(self, refresh: Callable[[], Awaitable[object]]) -> None:
        """Run ``refresh`` if the snapshot is old; callers arriving meanwhile wait for that one run."""
        if self.stale():
            async with self._reading:
                if self.stale():  # else the read we waited for was enough
                    await refresh()
