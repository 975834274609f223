"""Fan-out over a network that behaves like the real one: slow servers and dead ones.

Run ``python bench/fanout_network.py`` (defaults: 100,000 followers on 10,000 hosts,
``--processes 1 2``).  For each number of delivery worker processes it:

1. builds a node database in a temporary folder (in a helper process, so the node's
   memory figure is its own) with the followers, every host's followers sharing one
   ``sharedInbox``: 100,000 followers make 10,000 delivery rows, one per host;
2. points nine hosts in ten at the *live sink*, a separate process that answers each
   POST with 202 after a random 50-500 ms and closes the connection (every host is
   another machine: nothing is reused), and one host in ten at the *black hole*, a
   listening socket that never accepts: its backlog fills, later connections hang in
   SYN and time out, the first few connect and never get an answer;
3. publishes one article and lets the node's own delivery worker (the background loop
   ``fednode serve`` and ``fednode worker`` run, with the ``delivery_*`` settings) do
   the rest; with ``--processes 2`` a second worker process on the same database
   claims from the same queue;
4. prints the time from publish until 99 % (and 100 %) of the live hosts have the
   article, the peak RSS of the node process, and the machine's load beside them.

The targets this answers to: 99 % of live hosts in under 60 s, RSS under 300 MB.
Dead hosts' rows stay pending with a retry planned; they hold back no one.  Not a
pass/fail test: it prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import cpu_seconds_of, machine_cpu, peak_rss_of  # noqa: E402


# --- the live sink: 202 after 50-500 ms, one request per connection ---------------------------------

class SlowSinkProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 responder that answers each POST after a random 50-500 ms and closes."""

    def __init__(self, arrivals: dict, rng: random.Random) -> None:
        self.arrivals = arrivals
        self.rng = rng
        self.buffer = bytearray()
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, _, rest = head[0].partition(" ")
        target = rest.rpartition(" ")[0]
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        if method == "GET" and target.startswith("/_arrivals"):
            body = json.dumps(self.arrivals).encode()
            if "reset=1" in target:
                self.arrivals.clear()
            self.answer(b"200 OK", body)
            return
        path = target.partition("?")[0]
        self.arrivals.setdefault(path, time.time())  # first arrival per host (path) counts
        asyncio.get_running_loop().call_later(self.rng.uniform(0.05, 0.5), self.answer, b"202 Accepted", b"")

    def answer(self, status: bytes, body: bytes) -> None:
        if self.transport is None:
            return
        self.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode()
                             + b"\r\nConnection: close\r\n\r\n" + body)
        self.transport.close()
        self.transport = None


def run_live_sink(port: int, ready) -> None:
    arrivals: dict = {}
    rng = random.Random(17)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SlowSinkProtocol(arrivals, rng), "127.0.0.1", port, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def black_hole() -> tuple[socket.socket, int]:
    """A listening socket that never accepts: connections to it time out (connect or read)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock, sock.getsockname()[1]


async def arrivals(sink: str, reset: bool = False) -> dict[str, float]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(sink + "/_arrivals" + ("?reset=1" if reset else "")) as response:
            return json.loads(await response.read())


# --- the node ------------------------------------------------------------------------------------------

def settings_for(folder: Path, args, database: str | None = None):
    from node.config import load

    return load(config_file=None, environ={}, read_default_file=False, overrides={
        "base_url": "http://127.0.0.1:9", "database_url": database or f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "keys_dir": str(folder / "keys"), "allow_http": True, "allow_private_network": True,
        "log_level": "WARNING", "signing_processes": args["signing_processes"],
        "delivery_concurrency": args["concurrency"], "delivery_slow_lane": args["slow_lane"],
    })


def build_database(folder: str, args: dict, live: str, dead: str) -> None:
    """The followers, in a helper process: host n's shared inbox is on the black hole when n % 10 == 0."""
    async def build() -> None:
        from sqlalchemy import insert, select

        from node.app import open_node
        from node.db import queries
        from node.db.models import Actor, Follow

        node = await open_node(settings_for(Path(folder), args))
        async with node.sessions.begin() as session:
            site = await queries.get_local_actor(session, node.settings.site_username)
            actors = []
            for n in range(args["followers"]):
                host = n % args["hosts"]
                base = dead if host % 10 == 0 else live
                actor_id = f"{base}/h{host}/users/u{n}"
                actors.append({"ap_id": actor_id, "ap_type": "Person", "is_local": False, "username": f"u{n}",
                               "domain": f"h{host}.bench", "inbox": actor_id + "/inbox",
                               "shared_inbox": f"{base}/h{host}/inbox"})
            for start in range(0, len(actors), 10_000):
                await session.execute(insert(Actor), actors[start:start + 10_000])
            ids = (await session.scalars(select(Actor.id).where(Actor.is_local.is_(False)))).all()
            follows = [{"follower_id": i, "followed_id": site.id, "state": "accepted"} for i in ids]
            for start in range(0, len(follows), 10_000):
                await session.execute(insert(Follow), follows[start:start + 10_000])
        await node.close()

    asyncio.run(build())


def run_worker_process(folder: str, args: dict, ready, stop) -> None:
    """Another delivery worker process on the same database (as `fednode worker`)."""
    async def work() -> None:
        from node.app import open_node

        node = await open_node(settings_for(Path(folder), args), migrate=False)
        worker = await node.start_delivery()
        worker.poll_interval = 0.2
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await node.close()

    asyncio.run(work())


async def one_run(args, processes: int) -> dict:
    from sqlalchemy import select, update

    from node.app import open_node
    from node.content import Draft
    from node.db import queries
    from node.db.models import Delivery
    from node.services.publish import publish_article

    folder = Path(tempfile.mkdtemp(prefix="fednode-netbench-"))
    context = multiprocessing.get_context("spawn")
    settings_args = vars(args)
    helpers, stop = [], context.Event()
    try:
        builder = context.Process(target=build_database, args=(str(folder), settings_args, args.live, args.dead))
        builder.start()
        builder.join()
        node = await open_node(settings_for(folder, settings_args), migrate=False)
        for _ in range(processes - 1):
            ready = context.Event()
            helper = context.Process(target=run_worker_process, args=(str(folder), settings_args, ready, stop),
                                     daemon=True)
            helper.start()
            helpers.append(helper)
            if not ready.wait(60):
                raise SystemExit("a worker process did not start")
        worker = await node.start_delivery()  # signing processes started, as serve does
        await arrivals(args.live, reset=True)
        machine_before = machine_cpu()
        cpu_before = time.process_time()
        pool_pids = list(node.fetcher.sign_pool.pids) if node.fetcher.sign_pool else []
        helper_pids = [h.pid for h in helpers]
        others_before = cpu_seconds_of(pool_pids + helper_pids)
        start = time.time()
        async with node.sessions.begin() as session:
            author = await queries.get_local_actor(session, node.settings.default_author)
            body = "A benchmark article.\n\n" + "Some words to make the article a typical size. " * 12
            published = await publish_article(session, node.settings, Draft("Fan-out", "fan-out", body), author)
            # One sink stands for every live host, the black hole for every dead one: give each
            # row its fake host's name (the path's first segment) so per-host rules see 10,000 hosts.
            rows = (await session.execute(select(Delivery.id, Delivery.inbox))).all()
            await session.execute(update(Delivery), [
                {"id": row_id, "host": inbox.split("/")[3] + ".bench"} for row_id, inbox in rows])
        queued = time.time() - start
        worker.wake()
        live_hosts = sum(1 for h in range(args.hosts) if h % 10 != 0)
        t99 = t100 = None
        while time.time() - start < args.timeout:
            await asyncio.sleep(0.25)
            got = await arrivals(args.live)
            if t99 is None and len(got) >= 0.99 * live_hosts:
                t99 = sorted(got.values())[int(0.99 * live_hosts) - 1] - start
            if len(got) >= live_hosts:
                t100 = max(got.values()) - start
                break
        elapsed = time.time() - start
        busy, idle = (a - b for a, b in zip(machine_cpu(), machine_before))
        cpu = time.process_time() - cpu_before
        others = cpu_seconds_of(pool_pids + helper_pids) - others_before
        async with node.sessions() as session:
            counts = await queries.count_deliveries_by_status(session)
        pool_rss = [peak_rss_of(pid) for pid in pool_pids]
        helper_rss = [peak_rss_of(pid) for pid in helper_pids]
        await node.close()
    finally:
        stop.set()
        for helper in helpers:
            helper.join(20)
            helper.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "worker_processes": processes, "rows": published.deliveries, "live_hosts": live_hosts,
        "dead_hosts": args.hosts - live_hosts, "publish_and_queue_s": round(queued, 2),
        "seconds_to_99pct_live": round(t99, 2) if t99 is not None else None,
        "seconds_to_100pct_live": round(t100, 2) if t100 is not None else None,
        "observed_s": round(elapsed, 1), "delivery_rows_by_status": counts,
        "node_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "other_worker_peak_rss_mb": helper_rss, "signing_process_peak_rss_mb": pool_rss,
        "node_cpu_s": round(cpu, 1), "signing_and_other_workers_cpu_s": round(others, 1),
        "machine_busy": f"{busy / max(busy + idle, 1e-9):.0%} of {os.cpu_count()} CPUs",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "concurrency": args.concurrency, "slow_lane": args.slow_lane,
    }


def run_in_fresh_process(args, processes: int, queue) -> None:
    queue.put(asyncio.run(one_run(args, processes)))


def main() -> None:
    from node.config import SETTINGS_BY_NAME

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="delivery worker processes per run")
    parser.add_argument("--concurrency", type=int, default=SETTINGS_BY_NAME["delivery_concurrency"].default,
                        help="delivery_concurrency, the fast lane (default: the setting's)")
    parser.add_argument("--slow-lane", type=int, default=SETTINGS_BY_NAME["delivery_slow_lane"].default,
                        help="delivery_slow_lane (default: the setting's)")
    parser.add_argument("--signing-processes", type=int, default=-1)
    parser.add_argument("--timeout", type=float, default=300, help="give up observing after this many seconds")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    live_port = port.getsockname()[1]
    port.close()
    ready = context.Event()
    sink = context.Process(target=run_live_sink, args=(live_port, ready), daemon=True)
    sink.start()
    hole, dead_port = black_hole()
    args.live, args.dead = f"http://127.0.0.1:{live_port}", f"http://127.0.0.1:{dead_port}"
    try:
        if not ready.wait(30):
            raise SystemExit("the sink did not start")
        for processes in args.processes:
            # Each run in a fresh process: its peak RSS is that run's alone.
            queue = context.Queue()
            runner = context.Process(target=run_in_fresh_process, args=(args, processes, queue))
            runner.start()
            result = queue.get()
            runner.join()
            print(json.dumps(result, indent=2))
            print(f"{processes} worker process(es): 99 % of {result['live_hosts']} live hosts in "
                  f"{result['seconds_to_99pct_live']} s, all in {result['seconds_to_100pct_live']} s; "
                  f"node peak RSS {result['node_peak_rss_mb']} MB; load {result['load_average']}", flush=True)
    finally:
        sink.terminate()
        sink.join(5)
        hole.close()


if __name__ == "__main__":
    main()
