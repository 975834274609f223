"""The process's snapshots (moderation gate, site settings) are read once however many requests find them old.

Every inbox request asks the gate, every page the site settings; when the snapshot
has aged past ``REFRESH_SECONDS``, the requests that arrive while it is being read
again wait for that one read instead of starting their own.  A change made while a
read runs (``Gate.invalidate``) is not hidden by that read: the next answer reads again.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from node import site as site_module
from node.moderation import gate as gate_module
from node.moderation.gate import REFRESH_SECONDS, Gate
from node.site import SiteCache
from tests.support import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def no_session():
    yield None


class HeldReads:
    """Stands in for the database reads: counts them, and each waits until ``release``."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.blocks: list = []

    async def domain_blocks(self, session):
        self.count += 1
        await self.release.wait()
        return list(self.blocks)

    async def no_bans(self, session):
        return []


async def test_requests_finding_the_gate_old_share_one_read(monkeypatch):
    reads, clock = HeldReads(), Clock()
    monkeypatch.setattr(gate_module.db, "list_domain_blocks", reads.domain_blocks)
    monkeypatch.setattr(gate_module.db, "active_bans", reads.no_bans)
    gate = Gate(no_session, clock=clock)
    waiting = [asyncio.create_task(gate.refusal("https://a.example/u", "a.example")) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert reads.count == 1  # the first request reads; the other 19 wait for it
    reads.release.set()
    assert await asyncio.gather(*waiting) == [None] * 20
    assert reads.count == 1

    clock.now += REFRESH_SECONDS + 1  # old again: one more read for the next group of requests
    reads.blocks = [SimpleNamespace(domain="a.example", severity="suspend")]
    answers = await asyncio.gather(*(gate.refusal("https://a.example/u", "a.example") for _ in range(20)))
    assert reads.count == 2
    assert answers == ["a.example is suspended here"] * 20


async def test_a_block_made_while_the_gate_reads_is_read_again(monkeypatch):
    reads, clock = HeldReads(), Clock()
    monkeypatch.setattr(gate_module.db, "list_domain_blocks", reads.domain_blocks)
    monkeypatch.setattr(gate_module.db, "active_bans", reads.no_bans)
    gate = Gate(no_session, clock=clock)
    first = asyncio.create_task(gate.refusal("https://a.example/u", "a.example"))
    await asyncio.sleep(0.01)
    # A moderator suspends the domain in this process while the read (which may not see it) runs.
    reads.blocks = [SimpleNamespace(domain="a.example", severity="suspend")]
    gate.invalidate()
    reads.release.set()
    await first
    assert await gate.refusal("https://a.example/u", "a.example") == "a.example is suspended here"
    assert reads.count == 2


async def test_pages_finding_the_site_settings_old_share_one_read(monkeypatch, tmp_path):
    count, release = 0, asyncio.Event()

    async def load(session):
        nonlocal count
        count += 1
        await release.wait()
        return {"site_name": "Riverside"}

    monkeypatch.setattr(site_module.db, "load", load)
    clock = Clock()
    cache = SiteCache(make_settings(tmp_path), no_session, clock=clock)
    waiting = [asyncio.create_task(cache.fresh()) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert count == 1
    release.set()
    assert {settings.name for settings in await asyncio.gather(*waiting)} == {"Riverside"}
    assert count == 1
    clock.now += site_module.REFRESH_SECONDS + 1
    await asyncio.gather(*(cache.fresh() for _ in range(5)))
    assert count == 2
