"""The thread JSON of a 1,000-comment thread next to its HTML page (and the embed's frame), measured in one run.

A real node (SQLite, aiohttp, the real handlers over HTTP) holds one thread of 1,000
comments shaped like a busy forum's (bench/pages.py builds it), filed as the discussion of a
blog post so that the embed's frame (``/embed/discussions/N``) shows it too.  Round-robin,
``--repeat`` times, it times:

- the discussion's HTML page, rendered afresh (the rendered pages are forgotten before the
  request): the **baseline**;
- the same page from the cache, as most views get it;
- the embed's frame, afresh and cached (the same rendering inside the frame's chrome);
- the read API's thread JSON (``/api/v1/thread?id=``): its first page;
- the whole thread, every comment, read both ways: the HTML pages (each rendered afresh)
  following the pager and "continue this thread" links, and the JSON following ``next`` and
  each comment's ``replies_url`` (the sum of every request).

Each figure is the median wall time and CPU time of this process (node and client: the
node's share dominates) per request, printed as a ratio against the baseline with the
machine's load average beside it, and with how many comments each answer holds (a page of
HTML and a page of JSON are not the same amount of thread).

    python bench/thread_json.py [--size 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402

from pages import build_thread, empty, load  # noqa: E402  (bench/pages.py: the same thread shape)


async def file_as_discussion(node, article_url: str) -> int:
    """File the article's thread as the discussion of a blog post (so the embed can show it); its document id."""
    from node.db import discussions as db
    from node.db import queries
    from node.db.types import utcnow

    async with node.node.sessions.begin() as session:
        article = await queries.get_object(session, article_url)
        site = await queries.get_local_actor(session, node.settings.site_username)
        document = await db.add_document(
            session, canonical_url="https://blog.example/2026/12/harbour", kind="link", title="The harbour plan",
            description=None, site_name="A blog", author=None, creator=None, published=None,
            activitypub_id=None, opened_by_id=site.id, fetched_at=utcnow(), created_at=utcnow())
        await db.add_aliases(session, document.id, ["https://blog.example/2026/12/harbour"])
        document.thread_id = article.id
        await db.add_thread(session, document.id, article.id, "link")
        return document.id


async def get(http, url: str, accept: str) -> tuple[float, float, bytes]:
    """(wall seconds, CPU seconds of this process, body) of one GET."""
    started, cpu = time.perf_counter(), time.process_time()
    async with http.get(url, headers={"Accept": accept}) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {body[:200]!r}")
    return time.perf_counter() - started, time.process_time() - cpu, body


def html_comments(body: bytes) -> int:
    return body.count(b'<li class="comment ')


def json_comments(items: list[dict], seen: set[str] | None = None) -> tuple[int, list[str]]:
    """(how many comments a JSON page holds, nested ones too; the ``replies_url`` of those with replies left out).

    ``seen`` collects their ids: a ``replies_url`` page starts again at the first reply, so
    it repeats the replies its parent's page already held.
    """
    count, more, stack = 0, [], list(items)
    while stack:
        item = stack.pop()
        count += 1
        if seen is not None:
            seen.add(item["id"])
        if item.get("replies_url"):
            more.append(item["replies_url"])
        stack.extend(item.get("replies", []))
    return count, more


async def whole_thread_json(http, first: str) -> tuple[float, float, int, int]:
    """(wall, CPU, requests, comments) of reading every comment through the API: ``next``, then each ``replies_url``."""
    wall = cpu = 0.0
    requests, seen = 0, set()
    queue = [first]
    while queue:
        w, c, body = await get(http, queue.pop(), "application/json")
        page = json.loads(body)
        wall, cpu, requests = wall + w, cpu + c, requests + 1
        _, more = json_comments(page["comments"], seen)
        queue += more + ([page["next"]] if page.get("next") else [])
    return wall, cpu, requests, len(seen)


HTML_LINK = re.compile(rb'href="(\?(?:thread=\d+&amp;|thread=\d+&)?(?:page=\d+)?|\?thread=\d+)#')


async def whole_thread_html(http, cache, first: str) -> tuple[float, float, int, int]:
    """(wall, CPU, requests, comments) of reading every comment on the HTML pages, each rendered afresh.

    Follows the pager and "continue this thread" links, as a reader (or a crawler) would.
    """
    wall = cpu = 0.0
    seen_pages, seen_comments = set(), set()
    queue = [""]
    while queue:
        query = queue.pop()
        if query in seen_pages:
            continue
        seen_pages.add(query)
        empty(cache)
        w, c, body = await get(http, first + query, "text/html")
        wall, cpu = wall + w, cpu + c
        seen_comments.update(re.findall(rb'<li class="comment [^"]*" id="c-(\d+)"', body))
        for link in HTML_LINK.findall(body):
            link = link.decode().replace("&amp;", "&").removesuffix("&page=1")
            if link not in ("?", "?page=1", "?page=", "?"):
                queue.append(link)
    return wall, cpu, len(seen_pages), len(seen_comments)


async def main(args) -> None:
    from node.web.pages import PAGE_CACHE
    from tests.support import make_settings, running_node

    with tempfile.TemporaryDirectory() as folder:
        settings = make_settings(Path(folder), run_worker=False, embed_origins=["https://blog.example"])
        async with running_node(settings) as node, aiohttp.ClientSession() as http:
            began = time.perf_counter()
            article_url, _ = await build_thread(node, args.size, 1)
            document_id = await file_as_discussion(node, article_url)
            print(f"built a thread of {args.size:,} comments in {time.perf_counter() - began:.1f} s", flush=True)
            cache = node.app[PAGE_CACHE]
            html_url = node.url(f"/discussions/{document_id}")
            embed_url = node.url(f"/embed/discussions/{document_id}")
            json_url = node.url("/api/v1/thread?") + f"id={aiohttp.helpers.quote(article_url, safe='')}"
            for url, accept in ((html_url, "text/html"), (embed_url, "text/html"), (json_url, "application/json")):
                await get(http, url, accept)  # warm templates and the count
            samples: dict[str, list[tuple[float, float]]] = {}
            held: dict[str, str] = {}
            for _ in range(args.repeat):
                for name, url, accept, fresh in (
                        ("HTML page, rendered afresh", html_url, "text/html", True),
                        ("HTML page, cached", html_url, "text/html", False),
                        ("embed frame, rendered afresh", embed_url, "text/html", True),
                        ("embed frame, cached", embed_url, "text/html", False),
                        ("thread JSON, first page", json_url, "application/json", False)):
                    if fresh:
                        empty(cache)
                    else:
                        await get(http, url, accept)
                    wall, cpu, body = await get(http, url, accept)
                    samples.setdefault(name, []).append((wall, cpu))
                    held[name] = (f"{json_comments(json.loads(body)['comments'])[0]} comments"
                                  if accept == "application/json" else f"{html_comments(body)} comments")
                for name, crawl in (("HTML pages, whole thread", whole_thread_html(http, cache, html_url)),
                                    ("thread JSON, whole thread", whole_thread_json(http, json_url))):
                    wall, cpu, requests, comments = await crawl
                    samples.setdefault(name, []).append((wall, cpu))
                    held[name] = f"{comments} comments in {requests} requests"
            medians = {name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
                       for name, s in samples.items()}
            base_wall, base_cpu = medians["HTML page, rendered afresh"]
            print(f"\nbaseline: the HTML page of the {args.size:,}-comment thread, rendered afresh: "
                  f"{base_cpu * 1000:.1f} ms CPU, {base_wall * 1000:.1f} ms wall  ({load()})")
            print(f"  (medians of {args.repeat} rounds; ratios against the baseline; CPU is this process's)")
            for name, (wall, cpu) in medians.items():
                print(f"  {name:<30} CPU {cpu * 1000:7.1f} ms  ratio {cpu / base_cpu:5.2f}   "
                      f"wall {wall * 1000:7.1f} ms  ratio {wall / base_wall:5.2f}   {held[name]:<28} ({load()})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    asyncio.run(main(parser.parse_args()))
