"""How fast a URL finds its discussion, against the floor every lookup pays, measured in one run.

(a) floor: ``GET /discussions.json`` without ``url`` on the real node: routing, middlewares and
    a JSON answer, no canonicalisation and no database (400 "give the page's address").
(b) hit: ``GET /discussions.json?url=<an alias, with tracking parameters>`` on the same node,
    holding ``--documents`` discussed pages with three aliases each: canonicalise, find the
    document by alias with its thread and comment count, list its aliases (two statements).
(c) miss: the same for pages nobody discussed (one statement): what a browser extension asks
    for most pages a reader opens.

A client in a separate process keeps ``--concurrency`` requests in flight for ``--seconds`` each
phase; the ratio (b)/(a) compares only what the lookup adds.  Also: canonicalisations per second
against ``urllib.parse.urlsplit`` alone (the parse every canonicalisation starts with).

    python bench/discussions.py [--documents 20000] [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from node.app import NODE, create_app  # noqa: E402
from node.config import load  # noqa: E402
from node.db.models import DiscussionAlias, DiscussionDocument, DiscussionThread, Object  # noqa: E402
from node.db.types import utcnow  # noqa: E402
from node.discussions.canonical import canonicalize  # noqa: E402
from node.db import queries  # noqa: E402


def shared_link(index: int) -> str:
    """How a reader pastes story ``index``: mobile host, tracking parameters, a fragment."""
    return f"https://m.news{index % 50}.example/2026/12/story-{index}/?utm_source=mastodon&fbclid=x{index}#comments"


async def seed(node, documents: int) -> None:
    """``documents`` link threads with three aliases each, written with Core inserts."""
    now = utcnow()
    async with node.sessions.begin() as session:
        site = await queries.get_local_actor(session, node.settings.site_username)
        for start in range(0, documents, 2000):
            stop = min(start + 2000, documents)
            await session.execute(insert(DiscussionDocument.__table__), [
                {"id": i + 1, "canonical_url": f"https://news{i % 50}.example/2026/12/story-{i}", "kind": "link",
                 "title": f"Story {i}", "created_at": now} for i in range(start, stop)])
            await session.execute(insert(Object.__table__), [
                {"id": i + 1, "ap_id": node.urls.discussion(i + 1), "ap_type": "Page", "kind": "article",
                 "is_local": True, "actor_id": site.id, "name": f"Story {i}", "url": node.urls.discussion(i + 1),
                 "visibility": "public", "published": now, "replies_count": 0, "likes_count": 0,
                 "announces_count": 0, "created_at": now} for i in range(start, stop)])
            await session.execute(DiscussionDocument.__table__.update().where(
                DiscussionDocument.id.between(start + 1, stop)).values(thread_id=DiscussionDocument.id))
            await session.execute(insert(DiscussionThread.__table__), [
                {"document_id": i + 1, "object_id": i + 1, "origin": "link", "created_at": now}
                for i in range(start, stop)])
            await session.execute(insert(DiscussionAlias.__table__), [
                {"url": url, "document_id": i + 1, "created_at": now} for i in range(start, stop)
                for url in (f"https://news{i % 50}.example/2026/12/story-{i}", f"https://news{i % 50}.example/s/{i}",
                            f"https://news{i % 50}.example/?p={i}")])


def client(base: str, paths: list[str], seconds: float, concurrency: int, result) -> None:
    """Keep ``concurrency`` GETs in flight for ``seconds``; put (requests, statuses) in ``result``."""
    async def run() -> tuple[int, dict[int, int]]:
        done, statuses = 0, {}
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            async def worker(offset: int) -> None:
                nonlocal done
                n = offset
                while time.monotonic() < deadline:
                    async with http.get(base + paths[n % len(paths)]) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                    done += 1
                    n += concurrency
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done, statuses
    result.put(asyncio.run(run()))


async def phase(base: str, paths: list[str], seconds: float, concurrency: int) -> tuple[float, dict[int, int]]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=client, args=(base, paths, seconds, concurrency, queue))
    process.start()
    done, statuses = await asyncio.to_thread(queue.get)
    await asyncio.to_thread(process.join)
    return done / seconds, statuses


def canonicalisations(seconds: float) -> tuple[float, float]:
    links = [shared_link(i) for i in range(1000)]

    def rate(func) -> float:
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for link in links:
                func(link)
            count += len(links)
        return count / seconds
    return rate(canonicalize), rate(urlsplit)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = random.randint(20000, 40000)
        settings = load(config_file=None, environ={}, read_default_file=False, overrides={
            "base_url": f"http://127.0.0.1:{port}", "listen_port": port, "signing_processes": 0,
            "database_url": f"sqlite+aiosqlite:///{folder}/bench.db", "keys_dir": f"{folder}/keys",
            "run_worker": False, "log_level": "WARNING"})
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            started = time.perf_counter()
            await seed(app[NODE], args.documents)
            print(f"seeded {args.documents} documents ({3 * args.documents} aliases) in "
                  f"{time.perf_counter() - started:.1f} s")
            base = f"http://127.0.0.1:{port}"
            from urllib.parse import quote
            lookups = [f"/discussions.json?url={quote(shared_link(random.randrange(args.documents)), safe='')}"
                       for _ in range(2000)]
            load_before = os.getloadavg()
            misses = [path.replace("story-", "unseen-") for path in lookups]
            floor, floor_statuses = await phase(base, ["/discussions.json"], args.seconds, args.concurrency)
            lookup, lookup_statuses = await phase(base, lookups, args.seconds, args.concurrency)
            miss, miss_statuses = await phase(base, misses, args.seconds, args.concurrency)
            load_after = os.getloadavg()
        finally:
            await runner.cleanup()
    canonical, split = canonicalisations(1.0)
    print(f"(a) floor  /discussions.json (400, no lookup): {floor:8.0f} req/s  {floor_statuses}")
    print(f"(b) hit    /discussions.json?url=<alias>:      {lookup:8.0f} req/s  {lookup_statuses}")
    print(f"(c) miss   /discussions.json?url=<unknown>:    {miss:8.0f} req/s  {miss_statuses}")
    print(f"ratio (b)/(a): {lookup / floor:.2f}; (c)/(a): {miss / floor:.2f}")
    print(f"canonicalize: {canonical:,.0f}/s; urlsplit alone: {split:,.0f}/s; ratio {canonical / split:.3f}")
    print(f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    asyncio.run(main())
