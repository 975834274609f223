"""Helpers for tests of several processes: waiting on an async condition, the children of a process.

``fednode serve --workers N`` forks N children and replaces one that dies; the tests find them in
/proc (Linux only) and poll until the set of children, or what they deliver, is as expected.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path


async def wait_for(condition, seconds: float = 10.0) -> bool:
    """Poll ``condition()`` (plain or async) until true or ``seconds`` pass; whether it became true.

    Unlike ``tests.support.wait_for`` it returns False rather than raising, so that the caller's assert
    can say what it saw (a log, the counts) when the wait ran out.
    """
    for _ in range(int(seconds / 0.05)):
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return True
        await asyncio.sleep(0.05)
    return False


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc; Linux only)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found
