"""The cost of one discussion page as the thread grows from 1,000 to 100,000 comments, measured in one run.

A real node (SQLite, aiohttp, the real page handler over HTTP) holds three
threads of 1,000, 10,000 and 100,000 comments, shaped like a busy forum: a fifth
of the comments answer the article, the rest answer an earlier comment, picked
mostly among the recent ones, with some long back-and-forth chains.

For each thread it times, over HTTP, the first page, a middle page and the last page
of the discussion and one "continue this thread" page, each rendered afresh (the
rendered pages are forgotten before every request), then the same first page from
the cache.  The thread's comment count is the one figure that reads the whole
thread; the node counts once per change of the thread and keeps the answer, so it
is timed on its own ("count").  The **baseline** is the 1,000-comment thread's uncached first page,
measured in the same run; every figure is printed as a ratio against it, with
the machine's load average beside it.  A flat cost means ratios near 1.0.

Then 8 uncached page views of the 100,000-comment thread are sent at once, and a
NodeInfo request in the middle of them is timed: what other requests wait while
big pages render.

    python bench/pages.py [--sizes 1000,10000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def build_thread(node, size: int, seed: int) -> tuple[str, int]:
    """Publish an article and give it ``size`` comments; return its URL and the id of a busy comment."""
    from node.content import Draft
    from node.db import queries
    from node.db.models import Object
    from node.services.publish import publish_article

    rng = random.Random(seed)
    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        article = (await publish_article(session, node.settings, Draft(f"T{size}", f"t{size}", "x"), author)).article
        someone = await queries.upsert_remote_actor(session, {
            "ap_id": f"https://remote.example/users/u{seed}", "ap_type": "Person", "username": f"u{seed}",
            "domain": "remote.example"})
        first_id = (await session.scalar(select(Object.id).order_by(Object.id.desc()).limit(1))) + 1
        rows, ap_ids = [], {article.id: article.ap_id}
        for n in range(size):
            row_id = first_id + n
            if n == 0 or rng.random() < 0.2:
                parent = article.id
            elif rng.random() < 0.3:
                parent = row_id - 1  # a back-and-forth chain
            else:
                parent = first_id + int(n * (1 - rng.random() ** 3))  # mostly recent comments
                parent = min(parent, row_id - 1)
            ap_id = f"https://remote.example/users/u{seed}/statuses/{row_id}"
            ap_ids[row_id] = ap_id
            moment = T0 + timedelta(seconds=n)
            rows.append(dict(
                id=row_id, ap_id=ap_id, ap_type="Note", kind="comment", is_local=False, actor_id=someone.id,
                content=f"<p>Comment {n}: a reasonable remark of a sentence or two, with a "
                        f"<a href=\"https://example.org/{n}\" rel=\"nofollow noopener noreferrer\">link</a>.</p>",
                in_reply_to=ap_ids[parent], parent_id=parent, root_id=article.id, visibility="public",
                published=moment, created_at=moment, changed_at=moment, replies_count=0, likes_count=0,
                announces_count=0, moderation="published", locked=False, raw={"type": "Note"}))
        counts: dict[int, int] = {}
        for row in rows:
            counts[row["parent_id"]] = counts.get(row["parent_id"], 0) + 1
        for row in rows:
            row["replies_count"] = counts.get(row["id"], 0)
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Object.__table__), rows[start:start + 5000])
        busy = max((r for r in rows if r["parent_id"] != article.id), key=lambda r: counts.get(r["id"], 0))
    return node.url(f"/articles/t{size}"), busy["id"]


CPU: dict[str, float] = {"last": 0.0}  # CPU seconds of this process (node and client) in the last timed_get


async def timed_get(http, url: str) -> float:
    """Wall seconds of one GET; its CPU seconds (this process: the node, its SQLite thread, the client) in CPU."""
    started, cpu = time.perf_counter(), time.process_time()
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    CPU["last"] = time.process_time() - cpu
    return time.perf_counter() - started


def empty(cache) -> None:
    """Forget every rendered page (the next view renders afresh); the thread's counts stay, as they do until it changes."""
    cache._pages.clear()
    cache._size = 0


async def count_seconds(node, size: int, repeat: int) -> float:
    """Seconds to count a thread's comments (node.db.discussion.count_comments_and_removed), once per change of it."""
    from node.db import discussion as db
    from node.db import queries

    async with node.node.sessions() as session:
        root = await queries.get_article_by_slug(session, f"t{size}")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            await db.count_comments_and_removed(session, root.id)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def median_uncached(http, cache, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        empty(cache)
        times.append(await timed_get(http, url))
    return statistics.median(times)


async def main(args) -> None:
    from node.web.pages import PAGE_CACHE
    from tests.support import make_settings, running_node

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        async with running_node(make_settings(Path(folder), run_worker=False)) as node, aiohttp.ClientSession() as http:
            threads = {}
            for seed, size in enumerate(sizes):
                began = time.perf_counter()
                threads[size] = await build_thread(node, size, seed)
                print(f"built a thread of {size:,} comments in {time.perf_counter() - began:.1f} s", flush=True)
            cache = node.app[PAGE_CACHE]
            targets: dict[int, dict[str, str]] = {}
            for size, (url, busy) in threads.items():
                async with http.get(url, headers={"Accept": "text/html"}) as response:  # also warms the templates
                    html = await response.text()
                last = max([int(n) for n in re.findall(r'href="\?page=(\d+)#discussion"', html)] or [1])
                middle = max(1, last // 2)
                targets[size] = {"first page": url, f"page {middle}": f"{url}?page={middle}",
                                 f"last page ({last})": f"{url}?page={last}", "a thread page": f"{url}?thread={busy}"}
            # Round-robin: every figure is taken once per round, so a busy moment of the machine
            # weighs on all of them alike instead of on whichever was being measured.
            samples: dict[tuple[int, str], list[float]] = {}
            for _ in range(args.repeat):
                for size, named in targets.items():
                    for name, url in named.items():
                        empty(cache)
                        wall = await timed_get(http, url)
                        samples.setdefault((size, name), []).append((wall, CPU["last"]))
                    await timed_get(http, named["first page"])
                    wall = await timed_get(http, named["first page"])
                    samples.setdefault((size, "first page, cached"), []).append((wall, CPU["last"]))
                    cpu = time.process_time()
                    wall = await count_seconds(node, size, 1)
                    samples.setdefault((size, "count (once a change)"), []).append((wall, time.process_time() - cpu))
            results = {size: {name: (statistics.median(w for w, _ in samples[(size, name)]),
                                     statistics.median(c for _, c in samples[(size, name)]))
                              for (sized, name) in samples if sized == size} for size in sizes}
            base_wall, base_cpu = results[sizes[0]]["first page"]
            print(f"\nbaseline: the first page of the {sizes[0]:,}-comment thread, rendered afresh: "
                  f"{base_cpu * 1000:.1f} ms CPU, {base_wall * 1000:.1f} ms wall  ({load()})")
            print("  (medians; ratios against the baseline; CPU is this process's, which the machine's load disturbs least)")
            for size, figures in results.items():
                for name, (wall, cpu) in figures.items():
                    print(f"  {size:>7,} comments  {name:<22} CPU {cpu * 1000:7.1f} ms  ratio {cpu / base_cpu:5.2f}"
                          f"   wall {wall * 1000:7.1f} ms  ratio {wall / base_wall:5.2f}  ({load()})")

            biggest_url, _ = threads[sizes[-1]]

            async def view(page: int) -> float:
                empty(cache)
                return await timed_get(http, f"{biggest_url}?page={page}")

            async def nodeinfo() -> float:
                await asyncio.sleep(0.005)
                return await timed_get(http, node.url("/nodeinfo/2.1"))

            quiet = statistics.median([await timed_get(http, node.url("/nodeinfo/2.1")) for _ in range(args.repeat)])
            began = time.perf_counter()
            *views, during = await asyncio.gather(*(view(p) for p in range(1, 9)), nodeinfo())
            wall = time.perf_counter() - began
            print(f"\n8 uncached views of the {sizes[-1]:,}-comment thread at once: {wall * 1000:.0f} ms in all, "
                  f"slowest {max(views) * 1000:.0f} ms; NodeInfo meanwhile {during * 1000:.1f} ms "
                  f"(alone {quiet * 1000:.1f} ms)  ({load()})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
