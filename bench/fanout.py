"""Fan-out benchmark: one article to 10,000 followers on 1,000 hosts, against the raw signing rate.

Run ``python bench/fanout.py`` (``--followers 10000 --hosts 1000`` are the defaults).
Each run (``--repeat``, 3 by default, median reported):

1. measures the raw RSA-2048 PKCS#1 v1.5 / SHA-256 signing rate of one core (one
   thread signing a typical 1.5 KB string in a loop), for half the time just before
   and half just after the delivery phase, so the ratio compares figures taken under
   the same machine load;
2. builds a node database in a temporary folder with the followers, every host's
   followers sharing one ``sharedInbox`` (shared-inbox collapse: 10,000 followers
   make 1,000 delivery rows);
3. publishes one article and times publish → every row recorded ``delivered`` by a
   ``DeliveryWorker`` running in this process (no web server), against a sink in a
   separate process on 127.0.0.1 that answers 202 and counts requests per path;
4. prints deliveries/s, the raw rate, their ratio and the peak RSS of this process.

All hosts live on 127.0.0.1, and the node keys hosts by host name, so every row
would count as the same host "127.0.0.1" for the per-host limit.  The benchmark
therefore rewrites each queued row's ``host`` column to its fake host name
(``h17.bench``, the first path segment): per-host limits and host bookkeeping then
see 1,000 hosts as in real life, while the requests all go to paths on the one sink.

``--floor`` also measures two baselines on the same sink with as many POSTs:
the node's own ``Fetcher.post`` and signer without any database work, and the bare
minimum (a raw key operation and an aiohttp POST, nothing else).  ``--processes N``
runs N - 1 more delivery workers in their own processes on the same database.
Not a pass/fail test: it prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import os
import pstats
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIGNING_STRING_BYTES = 1500


# --- the raw signing rate ------------------------------------------------------------------------------

class RawSigner:
    """One RSA-2048 key and a typical signing string: the unit of work every delivery must do."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.padding, self.hash = padding.PKCS1v15(), hashes.SHA256()
        text = ("(request-target): post /users/someone/inbox\nhost: example.social\n"
                "date: Tue, 24 Nov 2026 10:00:00 GMT\ncontent-type: application/activity+json\n"
                "digest: SHA-256=" + "x" * SIGNING_STRING_BYTES)
        self.message = text[:SIGNING_STRING_BYTES].encode()

    def sign(self) -> bytes:
        return self.key.sign(self.message, self.padding, self.hash)

    def rate(self, seconds: float) -> tuple[int, float]:
        """(signatures made, seconds taken) signing in a loop on this thread for about ``seconds``."""
        for _ in range(10):  # warm up
            self.sign()
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(25):
                self.sign()
            count += 25
        return count, elapsed


# --- the sink, in its own process ----------------------------------------------------------------------

def run_sink(port: int, ready) -> None:
    """A tiny aiohttp app on 127.0.0.1:port: 202 to every POST, counts per path; GET /_stats reports."""
    from collections import Counter

    from aiohttp import web

    counts: Counter = Counter()

    async def post(request: web.Request) -> web.Response:
        await request.read()
        counts[request.path] += 1
        return web.Response(status=202)

    async def stats(request: web.Request) -> web.Response:
        report = {"requests": sum(counts.values()), "paths": len(counts), "max_per_path": max(counts.values(), default=0)}
        if request.query.get("reset"):
            counts.clear()
        return web.json_response(report)

    app = web.Application()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/{tail:.*}", post)
    web.run_app(app, host="127.0.0.1", port=port, print=lambda *_: ready.set(), access_log=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def sink_stats(sink: str) -> dict:
    """What the sink counted since the last call (and reset its counts)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(sink + "/_stats?reset=1") as response:
            return await response.json()


# --- the node side -------------------------------------------------------------------------------------

async def prepare(folder: Path, sink: str, followers: int, hosts: int):
    """A migrated node with ``followers`` accepted remote followers of the site on ``hosts`` hosts."""
    from sqlalchemy import insert, select

    from node.app import open_node
    from node.config import load
    from node.db import queries
    from node.db.models import Actor, Follow

    settings = load(config_file=None, environ={}, read_default_file=False, overrides={
        "base_url": "http://127.0.0.1:9", "database_url": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "keys_dir": str(folder / "keys"), "allow_http": True, "allow_private_network": True,
        "log_level": "WARNING",
    })
    node = await open_node(settings)
    async with node.sessions.begin() as session:
        site = await queries.get_local_actor(session, settings.site_username)
        actors = []
        for n in range(followers):
            host = n % hosts
            actor_id = f"{sink}/h{host}/users/u{n}"
            actors.append({"ap_id": actor_id, "ap_type": "Person", "is_local": False, "username": f"u{n}",
                           "domain": f"h{host}.bench", "inbox": actor_id + "/inbox",
                           "shared_inbox": f"{sink}/h{host}/inbox"})
        await session.execute(insert(Actor), actors)
        ids = (await session.scalars(select(Actor.id).where(Actor.is_local.is_(False)))).all()
        await session.execute(insert(Follow), [
            {"follower_id": actor_id, "followed_id": site.id, "state": "accepted"} for actor_id in ids
        ])
    return node


async def publish_and_deliver(node, args) -> tuple[int, float, float]:
    """Publish one article and deliver it to every inbox; return (rows, seconds in all, CPU seconds)."""
    from sqlalchemy import func, update

    from node.content import Draft
    from node.db import queries
    from node.db.models import Delivery
    from node.federation.delivery import DeliveryWorker
    from node.services.publish import publish_article

    worker = DeliveryWorker(node, concurrency=args.concurrency, per_host=args.per_host,
                            lease_seconds=node.settings.delivery_lease_seconds)
    body = "A benchmark article.\n\n" + "Some words to make the article a typical size. " * 12
    start, cpu = time.perf_counter(), time.process_time()
    async with node.sessions.begin() as session:
        author = await queries.get_local_actor(session, node.settings.default_author)
        published = await publish_article(session, node.settings, Draft("Fan-out", "fan-out", body), author)
        # One sink on 127.0.0.1 stands for every host: give each row its fake host's name
        # (the path's first segment) so per-host limits and bookkeeping see 1,000 hosts.
        segment = func.substr(Delivery.inbox, len(args.sink) + 2)
        await session.execute(update(Delivery).values(
            host=func.substr(segment, 1, func.instr(segment, "/") - 1) + ".bench"))
    rows = published.deliveries
    queued = time.perf_counter()
    if args.go is not None:
        args.go.set()  # the other worker processes start claiming too
    while await worker.run_once(args.claim):
        pass
    if args.go is not None:
        await asyncio.get_running_loop().run_in_executor(None, lambda: [d.wait() for d in args.done])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if args.verbose:
        print(f"  publish + queue {queued - start:.3f} s, delivering {elapsed - (queued - start):.3f} s; "
              f"CPU of this process {cpu:.3f} s", file=sys.stderr)
    async with node.sessions() as session:
        counts = await queries.count_deliveries_by_status(session)
    if counts != {"delivered": rows}:
        raise SystemExit(f"not every delivery succeeded: {counts}")
    return rows, elapsed, cpu


def run_worker_process(database: str, keys: str, args_dict: dict, ready, go, done) -> None:
    """A second (third...) delivery worker in its own process, on the same database: the queue is shared."""
    async def work() -> None:
        from node.app import open_node
        from node.config import load
        from node.federation.delivery import DeliveryWorker

        settings = load(config_file=None, environ={}, read_default_file=False, overrides={
            "base_url": "http://127.0.0.1:9", "database_url": database, "keys_dir": keys,
            "allow_http": True, "allow_private_network": True, "log_level": "WARNING",
        })
        node = await open_node(settings, migrate=False)
        worker = DeliveryWorker(node, concurrency=args_dict["concurrency"], per_host=args_dict["per_host"])
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        idle = 0
        while idle < 3:  # the queue is empty once several claims in a row find nothing
            idle = 0 if await worker.run_once(args_dict["claim"]) else idle + 1
            if idle:
                await asyncio.sleep(0.02)
        await node.close()

    asyncio.run(work())
    done.set()


async def floor(args, raw: RawSigner, rows: int) -> float:
    """POSTs per second when each POST costs only a raw signature and aiohttp itself."""
    import aiohttp

    payload = b"x" * 1500
    limit = asyncio.Semaphore(args.concurrency)
    async with aiohttp.ClientSession() as http:
        async def one(n: int) -> None:
            async with limit:
                raw.sign()
                async with http.post(f"{args.sink}/h{n % args.hosts}/inbox", data=payload,
                                     headers={"Content-Type": "application/activity+json"}) as response:
                    await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(rows)))
        per_second = rows / (time.perf_counter() - start)
    await sink_stats(args.sink)
    return per_second


async def fetcher_posts(args, node, rows: int) -> float:
    """POSTs per second through the node's own ``Fetcher.post`` and signer, with no database work."""
    from node.federation.signing import signer_for

    signer = signer_for(node.settings, node.settings.default_author)
    payload = b"x" * 1500
    limit = asyncio.Semaphore(args.concurrency)

    async def one(n: int) -> None:
        async with limit:
            await node.fetcher.post(f"{args.sink}/h{n % args.hosts}/inbox", payload, signer)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(rows)))
    per_second = rows / (time.perf_counter() - start)
    await sink_stats(args.sink)
    return per_second


async def one_run(args, raw: RawSigner) -> dict:
    """One fan-out on a fresh database (and, with --floor, the two baselines on the same sink)."""
    folder = Path(tempfile.mkdtemp(prefix="fednode-bench-"))
    try:
        node = await prepare(folder, args.sink, args.followers, args.hosts)
        helpers = start_helpers(args, node.settings)
        if args.sign_inline:
            node.fetcher.sign_executor.shutdown()
            node.fetcher.sign_executor = None  # sign on the event loop instead of in threads
        try:
            before = raw.rate(args.sign_seconds / 2)
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            rows, elapsed, cpu = await publish_and_deliver(node, args)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
            after = raw.rate(args.sign_seconds / 2)
            stats = await sink_stats(args.sink)
            baselines = {}
            if args.floor:
                baselines["fetcher_post_per_s"] = await fetcher_posts(args, node, rows)
                baselines["floor_per_s"] = await floor(args, raw, rows)
        finally:
            await node.close()
            for helper in helpers:
                helper.join(10)
                helper.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if stats["requests"] != rows or stats["max_per_path"] != 1:
        raise SystemExit(f"the sink counted {stats} for {rows} rows")
    sign_rate = (before[0] + after[0]) / (before[1] + after[1])
    result = {"rows": rows, "seconds": round(elapsed, 3), "deliveries_per_s": round(rows / elapsed, 1),
              "cpu_ms_per_delivery": round(cpu / rows * 1000, 3), "raw_sign_per_s": round(sign_rate, 1),
              "ratio": round(rows / elapsed / sign_rate, 3)}
    for name, per_second in baselines.items():
        result[name] = round(per_second, 1)
        result[name.replace("per_s", "ratio")] = round(per_second / sign_rate, 3)
    return result


def start_helpers(args, settings) -> list:
    """With ``--processes N``, N - 1 more worker processes waiting for the publish."""
    args.go, args.done = None, []
    if args.processes <= 1:
        return []
    context = multiprocessing.get_context("spawn")
    args.go = context.Event()
    helpers = []
    for _ in range(args.processes - 1):
        ready, done = context.Event(), context.Event()
        helper = context.Process(target=run_worker_process, daemon=True, args=(
            settings.database_url, settings.keys_dir,
            {"concurrency": args.concurrency, "per_host": args.per_host, "claim": args.claim}, ready, args.go, done))
        helper.start()
        if not ready.wait(60):
            raise SystemExit("a worker process did not start")
        helpers.append(helper)
        args.done.append(done)
    return helpers


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--concurrency", type=int, default=32, help="delivery_concurrency (default as the setting)")
    parser.add_argument("--per-host", type=int, default=4, help="delivery_per_host (default as the setting)")
    parser.add_argument("--claim", type=int, default=None, help="rows claimed per round (default: the worker's own)")
    parser.add_argument("--processes", type=int, default=1,
                        help="delivery workers in all: this process plus N - 1 more on the same database")
    parser.add_argument("--sign-seconds", type=float, default=2.0, help="time spent measuring the raw rate per run")
    parser.add_argument("--sign-inline", action="store_true", help="sign on the event loop instead of in threads")
    parser.add_argument("--floor", action="store_true",
                        help="also measure Fetcher.post alone and a bare sign + POST on the same sink")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the delivery phase")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key with --profile (e.g. tottime)")
    parser.add_argument("--verbose", action="store_true", help="print the time of each phase")
    args = parser.parse_args()

    port = free_port()
    args.sink = f"http://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    sink = context.Process(target=run_sink, args=(port, ready), daemon=True)
    sink.start()
    raw = RawSigner()
    try:
        if not ready.wait(30):
            raise SystemExit("the sink did not start")
        runs = []
        for _ in range(args.repeat):
            runs.append(asyncio.run(one_run(args, raw)))
            print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        sink.terminate()
        sink.join(5)
    median = sorted(runs, key=lambda run: run["ratio"])[len(runs) // 2]
    summary = {
        "followers": args.followers, "hosts": args.hosts, "rows": median["rows"],
        "deliveries_per_s": median["deliveries_per_s"], "raw_sign_per_s_one_core": median["raw_sign_per_s"],
        "ratio": median["ratio"], "ratios": [run["ratio"] for run in runs],
        "cpu_ms_per_delivery": median["cpu_ms_per_delivery"], "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "concurrency": args.concurrency, "per_host": args.per_host, "worker_processes": args.processes,
        "signing": "event loop" if args.sign_inline else "thread pool (as open_node sets it up)",
    }
    if args.floor:
        summary["fetcher_post_ratio"] = median["fetcher_post_ratio"]
        summary["floor_ratio"] = median["floor_ratio"]
    print(json.dumps(summary, indent=2))
    print(f"{args.followers} followers on {args.hosts} hosts -> {median['rows']} deliveries (shared inboxes): "
          f"{median['deliveries_per_s']:.0f}/s; raw RSA-2048 signing on one core {median['raw_sign_per_s']:.0f}/s; "
          f"ratio {median['ratio']:.2f} (median of {len(runs)}); peak RSS {peak_rss_mb():.0f} MB")
    print("(all hosts are paths on one sink on 127.0.0.1; each row's host column names its fake host, "
          "so per-host limits apply per path here)")


if __name__ == "__main__":
    main()
