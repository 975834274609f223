"""The article page with a 1,000-comment thread: a signed-in member against a reader, measured in one run.

A real node (SQLite, aiohttp, the real page handler and session middleware over HTTP) holds
an article with a thread of 1,000 comments shaped like bench/pages.py's (a fifth answer the
article, the rest an earlier comment).  A member who wrote some of those comments and liked
and boosted others signs in through the real /login form.  Then, round-robin so a busy moment
of the machine weighs on both alike, it times:

- the **baseline**: the page for a reader who is not signed in, as the cache serves it;
- the same page for the member (the shared member rendering, plus their session, their marks
  on the thread in one statement, and their own buttons filled in);
- both again with the rendered pages forgotten before each request (a thread that just changed).

The target (issue 12): the member's page costs at most 1.2 × the reader's.  Medians of CPU
seconds of this process (node and client) and of wall time, each as a ratio against the
baseline, with the load average beside them.

    python bench/member_page.py [--comments 1000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402

from pages import build_thread, empty  # noqa: E402  (bench/pages.py: the same thread shape)


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def timed_get(http, url: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process, body) of one GET."""
    started, cpu = time.perf_counter(), time.process_time()
    async with http.get(url, headers={"Accept": "text/html"}) as response:
        body = await response.text()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return time.perf_counter() - started, time.process_time() - cpu, body


async def make_members_marks(node, url: str, member, share: int) -> None:
    """The member wrote every ``share``-th comment of the thread and liked and boosted others."""
    from sqlalchemy import update

    from node.db import queries
    from node.db.models import Object, Reaction

    async with node.node.sessions.begin() as session:
        root = await queries.get_article_by_url(session, url)
        thread = list(await queries.list_thread(session, root.id))
        mine = [c.id for c in thread[::share]]
        await session.execute(update(Object).where(Object.id.in_(mine)).values(actor_id=member.actor_id))
        for n, comment in enumerate(thread[1::share]):
            for kind in ("like", "announce"):
                session.add(Reaction(ap_id=f"{url}#r{n}{kind}", kind=kind, actor_id=member.actor_id,
                                     object_id=comment.id))


async def main(args) -> None:
    from node.web.pages import PAGE_CACHE
    from tests.members_support import login, make_member
    from tests.support import make_settings, running_node

    with tempfile.TemporaryDirectory() as folder:
        async with running_node(make_settings(Path(folder), run_worker=False)) as node:
            url, _ = await build_thread(node, args.comments, 0)
            member = await make_member(node, "alice")
            await make_members_marks(node, url, member, share=20)
            cache = node.app[PAGE_CACHE]
            async with aiohttp.ClientSession() as reader, \
                    aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as signed_in:
                await login(signed_in, node.base, "alice")
                _, _, as_reader = await timed_get(reader, url)  # warms templates and both cache entries
                _, _, as_member = await timed_get(signed_in, url)
                assert "/edit" in as_member and 'aria-pressed="true"' in as_member and "/edit" not in as_reader
                comments = as_member.count('<li class="comment')
                samples: dict[str, list[tuple[float, float]]] = {}
                for _ in range(args.repeat):
                    for http in (reader, signed_in):  # the fresh renderings below left the cache empty
                        await timed_get(http, url)
                    for name, http in (("reader", reader), ("member", signed_in)):
                        wall, cpu, _ = await timed_get(http, url)
                        samples.setdefault(f"{name}, cached", []).append((wall, cpu))
                    for name, http in (("reader", reader), ("member", signed_in)):
                        empty(cache)
                        wall, cpu, _ = await timed_get(http, url)
                        samples.setdefault(f"{name}, rendered afresh", []).append((wall, cpu))
            results = {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
                       for name, values in samples.items()}
            print(f"the article page with a {args.comments:,}-comment thread ({comments} comments on the page), "
                  f"{args.repeat} rounds; medians")
            for kind in ("cached", "rendered afresh"):
                base_wall, base_cpu = results[f"reader, {kind}"]
                print(f"\nbaseline: a reader, {kind}: CPU {base_cpu * 1000:.2f} ms, wall {base_wall * 1000:.2f} ms  ({load()})")
                wall, cpu = results[f"member, {kind}"]
                print(f"  signed-in member, {kind:<15} CPU {cpu * 1000:7.2f} ms  ratio {cpu / base_cpu:5.2f}"
                      f"   wall {wall * 1000:7.2f} ms  ratio {wall / base_wall:5.2f}  ({load()})")
            print(f"\ntarget: the member's cached page at most 1.20 × the reader's "
                  f"(CPU ratio {results['member, cached'][1] / results['reader, cached'][1]:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
