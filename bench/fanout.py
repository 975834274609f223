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
   ``DeliveryWorker`` running its own background loop in this process, as in ``fednode
   serve`` (no web server; ``--run-once`` drives it by ``run_once`` rounds instead), with
   the node's default settings (128 fast slots, a slow lane of 128, 4 per host), against
   a sink in a separate process on 127.0.0.1 that answers 202 and counts requests per path;
   the node signs in its signing processes (``signing_processes``, default one per
   core), started before the clock as ``fednode serve``/``worker`` start them;
4. prints deliveries/s, the raw rate, their ratio and the peak RSS of this process
   (and of one signing process).

The sink stands for 1,000 remote machines but runs on the same cores as the node,
so it is a minimal asyncio.Protocol HTTP/1.1 responder (request line, headers,
Content-Length, keep-alive) that costs a few hundredths of a millisecond a request,
where aiohttp's server cost more than the node's client.  Nothing on the node's side
is simplified: real aiohttp client, real signatures, the real database ledger.

All hosts live on 127.0.0.1, and the node keys hosts by host name, so every row
would count as the same host "127.0.0.1" for the per-host limit.  The benchmark
therefore rewrites each queued row's ``host`` column to its fake host name
(``h17.bench``, the first path segment): per-host limits and host bookkeeping then
see 1,000 hosts as in real life, while the requests all go to paths on the one sink.

``--floor`` also measures two baselines on the same sink with as many POSTs:
the node's own ``Fetcher.post`` and signer without any database work, and the bare
minimum (a raw key operation and an aiohttp POST, nothing else).  ``--processes N``
runs N - 1 more delivery workers in their own processes on the same database.
``--verbose`` prints, per run, the time of each phase, the CPU used by this process, the
signing processes and the sink, the worker's claims and ledger transactions (how many, rows
and wall time each: a row holds its lane slot until its outcome is written), and how busy
the whole machine was meanwhile (other work on the same cores lowers the ratio; a machine
that is 100 % busy says so).
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

class SinkProtocol(asyncio.Protocol):
    """One connection to the sink: a minimal HTTP/1.1 server (request line, headers, Content-Length, keep-alive).

    The sink stands for 1,000 remote machines; on this benchmark's machine it shares the
    node's cores, so it must cost as little as possible.  aiohttp's server spent more CPU
    per request than the node's client did; this one parses only what it needs.
    ``POST <path>`` is counted per path and answered 202; ``GET /_stats`` reports the counts.
    """

    def __init__(self, counts) -> None:
        self.counts = counts
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def eof_received(self):
        return False

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            method, _, rest = head[0].partition(" ")
            target = rest.rpartition(" ")[0]
            length, close = 0, False
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                elif name == "transfer-encoding":
                    self.answer(b"501 Not Implemented", b"", close=True)
                    return
            if len(buffer) < end + 4 + length:
                return  # the rest of the body is still on its way
            del buffer[:end + 4 + length]
            if method == "POST":
                self.counts[target.partition("?")[0]] += 1
                self.answer(b"202 Accepted", b"", close)
            elif method == "GET" and target.startswith("/_stats"):
                import json

                counts = self.counts
                report = {"requests": sum(counts.values()), "paths": len(counts),
                          "max_per_path": max(counts.values(), default=0)}
                if "reset=1" in target:
                    counts.clear()
                self.answer(b"200 OK", json.dumps(report).encode(), close, b"application/json")
            else:
                self.answer(b"404 Not Found", b"", close)
            if close or self.transport is None:
                return

    def answer(self, status: bytes, body: bytes, close: bool, content_type: bytes = b"") -> None:
        if self.transport is None:
            return
        head = b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
        if content_type:
            head += b"Content-Type: " + content_type + b"\r\n"
        if close:
            head += b"Connection: close\r\n"
        self.transport.write(head + b"\r\n" + body)
        if close:
            self.transport.close()
            self.transport = None


def run_sink(port: int, ready) -> None:
    """The sink on 127.0.0.1:port, in its own process: 202 to every POST, counted per path."""
    import asyncio
    from collections import Counter

    counts: Counter = Counter()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SinkProtocol(counts), "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


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

async def prepare(folder: Path, sink: str, followers: int, hosts: int, signing_processes: int):
    """A migrated node with ``followers`` accepted remote followers of the site on ``hosts`` hosts."""
    from sqlalchemy import insert, select

    from node.app import open_node
    from node.config import load
    from node.db import queries
    from node.db.models import Actor, Follow

    settings = load(config_file=None, environ={}, read_default_file=False, overrides={
        "base_url": "http://127.0.0.1:9", "database_url": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "keys_dir": str(folder / "keys"), "allow_http": True, "allow_private_network": True,
        "log_level": "WARNING", "signing_processes": signing_processes,
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


class LedgerCounter:
    """Counts the worker's claims and ledger transactions (its group commits).

    Wraps the functions every claim and every group commit go through, whichever way the
    worker is driven (its background loop or ``run_once``); ``done`` is set once the
    ``expect``-ed number of outcomes is written.
    """

    def __init__(self, worker) -> None:
        self.transactions: list[int] = []  # rows written by each transaction
        self.claims: list[int] = []  # rows leased by each claim that found some
        self.write_seconds = self.claim_seconds = 0.0  # wall time from asking to done (waits included)
        self.expected: int | None = None
        self.done = asyncio.Event()
        self.looked = asyncio.Event()  # the worker's first claim is over (it found nothing: nothing was queued)
        write, claim = worker._ledger._write, worker._claim_and_learn

        async def counted_write(rows, results):
            begun = time.perf_counter()
            await write(rows, results)
            self.write_seconds += time.perf_counter() - begun
            self.transactions.append(len(rows))
            self._check()

        async def counted_claim(*args, **kwargs):
            begun = time.perf_counter()
            try:
                rows = await claim(*args, **kwargs)
            finally:
                self.looked.set()
            self.claim_seconds += time.perf_counter() - begun
            if rows:
                self.claims.append(len(rows))
            return rows

        worker._ledger._write = counted_write
        worker._claim_and_learn = counted_claim

    def expect(self, outcomes: int) -> None:
        self.expected = outcomes
        self._check()

    def _check(self) -> None:
        if self.expected is not None and sum(self.transactions) >= self.expected:
            self.done.set()

    def describe(self) -> str:
        writes, claims = len(self.transactions), len(self.claims)
        return (f"{claims} claims ({sum(self.claims) / max(claims, 1):.1f} rows each, "
                f"{self.claim_seconds / max(claims, 1) * 1000:.1f} ms each), {writes} ledger transactions "
                f"({sum(self.transactions) / max(writes, 1):.1f} rows each, "
                f"{self.write_seconds / max(writes, 1) * 1000:.1f} ms each)")


async def publish_and_deliver(node, args) -> tuple[int, float, float]:
    """Publish one article and deliver it to every inbox; return (rows, seconds in all, CPU seconds).

    The worker runs its own background loop (``DeliveryWorker.start``), as in ``fednode serve``
    and ``fednode worker``: claims as soon as there is room, no rounds.  ``--run-once`` drives
    it with ``run_once`` rounds instead (claim a batch, wait for all of it), as tools do.
    """
    from sqlalchemy import func, update

    from node.content import Draft
    from node.db import queries
    from node.db.models import Delivery
    from node.app import freeze_startup_heap
    from node.federation.delivery import DeliveryWorker
    from node.services.publish import publish_article

    worker = DeliveryWorker(node, concurrency=args.concurrency, per_host=args.per_host,
                            lease_seconds=node.settings.delivery_lease_seconds, slow_lane=args.slow_lane)
    counter = LedgerCounter(worker)
    looping = not args.run_once
    if looping:
        await worker.start()  # started before the clock, as a running node's worker is
        # ... and past its first look at the queue: a running node's worker made that one when
        # the node started, long before anyone publishes; here it would otherwise run inside
        # the timed window, holding the database while the publish writes.
        await counter.looked.wait()
        counter.claim_seconds = 0.0
    freeze_startup_heap()  # as fednode serve and fednode worker do once started
    body = "A benchmark article.\n\n" + "Some words to make the article a typical size. " * 12
    try:
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
        counter.expect(rows)
        queued, queued_cpu = time.perf_counter(), time.process_time() - cpu
        if args.go is not None:
            args.go.set()  # the other worker processes start claiming too
        if looping:
            worker.wake()  # as publishing in a running node wakes its worker
            if args.go is None:
                await counter.done.wait()
            else:  # the rows are shared with the other processes: wait until the database says all are done
                while (await pending_count(node)) > 0:
                    await asyncio.sleep(0.02)
        else:
            while await worker.run_once(args.claim):
                pass
        if args.go is not None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: [d.wait() for d in args.done])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        if looping:
            await worker.stop()
    if args.verbose:
        print(f"  publish + queue {queued - start:.3f} s, delivering {elapsed - (queued - start):.3f} s; "
              f"CPU of this process {cpu:.3f} s ({queued_cpu:.3f} s of it before delivering); "
              f"{counter.describe()} in this process", file=sys.stderr)
    async with node.sessions() as session:
        counts = await queries.count_deliveries_by_status(session)
    if counts != {"delivered": rows}:
        raise SystemExit(f"not every delivery succeeded: {counts}")
    return rows, elapsed, cpu


async def pending_count(node) -> int:
    """Rows not yet recorded delivered or failed (all processes together)."""
    from node.db import queries

    async with node.sessions() as session:
        counts = await queries.count_deliveries_by_status(session)
    return counts.get("pending", 0)


def run_worker_process(database: str, keys: str, args_dict: dict, ready, go, done) -> None:
    """A second (third...) delivery worker in its own process, on the same database: the queue is shared."""
    async def work() -> None:
        from node.app import freeze_startup_heap, open_node
        from node.config import load
        from node.federation.delivery import DeliveryWorker

        settings = load(config_file=None, environ={}, read_default_file=False, overrides={
            "base_url": "http://127.0.0.1:9", "database_url": database, "keys_dir": keys,
            "allow_http": True, "allow_private_network": True, "log_level": "WARNING",
            "signing_processes": args_dict["signing_processes"],
        })
        node = await open_node(settings, migrate=False)
        worker = DeliveryWorker(node, concurrency=args_dict["concurrency"], per_host=args_dict["per_host"],
                                slow_lane=args_dict["slow_lane"])
        if args_dict["run_once"]:
            if node.fetcher.sign_pool is not None:
                await node.fetcher.sign_pool.start()
        else:
            await worker.start()
        freeze_startup_heap()
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        if args_dict["run_once"]:
            idle = 0
            while idle < 3:  # the queue is empty once several claims in a row find nothing
                idle = 0 if await worker.run_once(args_dict["claim"]) else idle + 1
                if idle:
                    await asyncio.sleep(0.02)
        else:
            worker.wake()
            while (await pending_count(node)) > 0:
                await asyncio.sleep(0.02)
            await worker.stop()
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

    signer = signer_for(node.settings, node.settings.default_author, node.fetcher.sign_pool)
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
        node = await prepare(folder, args.sink, args.followers, args.hosts, args.signing_processes)
        helpers = start_helpers(args, node.settings)
        pool = node.fetcher.sign_pool
        if pool is not None:
            await pool.start()  # as `fednode serve` and `fednode worker` do when their delivery worker starts
        try:
            before = raw.rate(args.sign_seconds / 2)
            # Timed by this thread's CPU, not the wall clock: on a busy machine the wall clock
            # mostly measures waiting for a core.
            profiler = cProfile.Profile(time.thread_time) if args.profile else None
            others = {"signing processes": pool.pids if pool is not None else [], "sink": [args.sink_pid]}
            others_before = {name: cpu_seconds_of(pids) for name, pids in others.items()}
            pool_before = (pool.signed, pool.batches) if pool is not None else (0, 0)
            machine_before = machine_cpu()
            if profiler:
                profiler.enable()
            rows, elapsed, cpu = await publish_and_deliver(node, args)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
                if args.profile_file:
                    profiler.dump_stats(args.profile_file)
            if args.verbose:
                busy, idle = (after - before for after, before in zip(machine_cpu(), machine_before))
                print(f"  the whole machine meanwhile: {busy:.3f} CPU-seconds busy, {idle:.3f} idle "
                      f"({busy / max(busy + idle, 1e-9):.0%} of its {os.cpu_count()} CPUs)", file=sys.stderr)
                if pool is not None:
                    signed, batches = pool.signed - pool_before[0], pool.batches - pool_before[1]
                    print(f"  signing processes: {signed} signatures in {batches} batches "
                          f"({signed / max(batches, 1):.1f} each)", file=sys.stderr)
                for name, pids in others.items():
                    used = cpu_seconds_of(pids) - others_before[name]
                    print(f"  CPU of the {name}: {used:.3f} s ({used / rows * 1000:.3f} ms per delivery)",
                          file=sys.stderr)
            after = raw.rate(args.sign_seconds / 2)
            stats = await sink_stats(args.sink)
            pool_rss = [peak_rss_of(pid) for pid in pool.pids] if pool is not None else []
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
    if pool_rss:
        result["signing_process_peak_rss_mb"] = max(pool_rss)
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
            {"concurrency": args.concurrency, "per_host": args.per_host, "claim": args.claim,
             "signing_processes": args.signing_processes, "slow_lane": args.slow_lane,
             "run_once": args.run_once}, ready, args.go, done))
        helper.start()
        if not ready.wait(60):
            raise SystemExit("a worker process did not start")
        helpers.append(helper)
        args.done.append(done)
    return helpers


def machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot (from /proc/stat; Linux only)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (from /proc; Linux only)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_of(pid: int) -> float:
    """Peak resident set size of another process of ours, in MB (VmHWM; 0 if unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from node.config import SETTINGS_BY_NAME
    from node.federation.signpool import auto_processes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--concurrency", type=int, default=SETTINGS_BY_NAME["delivery_concurrency"].default,
                        help="delivery_concurrency (default as the setting; a row holds its slot until its outcome "
                             "is written, so more slots also mean larger group commits)")
    parser.add_argument("--per-host", type=int, default=SETTINGS_BY_NAME["delivery_per_host"].default,
                        help="delivery_per_host (default as the setting)")
    parser.add_argument("--slow-lane", type=int, default=SETTINGS_BY_NAME["delivery_slow_lane"].default,
                        help="delivery_slow_lane (default as the setting)")
    parser.add_argument("--run-once", action="store_true",
                        help="drive the worker by run_once rounds (claim a batch, wait for all of it) instead of "
                             "its own background loop")
    parser.add_argument("--claim", type=int, default=None, help="with --run-once, rows claimed per round")
    parser.add_argument("--processes", type=int, default=1,
                        help="delivery workers in all: this process plus N - 1 more on the same database")
    parser.add_argument("--sign-seconds", type=float, default=2.0, help="time spent measuring the raw rate per run")
    parser.add_argument("--signing-processes", type=int, default=-1,
                        help="the signing_processes setting (default -1: one per CPU core, at most 4)")
    parser.add_argument("--sign-inline", action="store_true",
                        help="sign on the event loop, no signing processes (same as --signing-processes 0)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure Fetcher.post alone and a bare sign + POST on the same sink")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the delivery phase")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key with --profile (e.g. tottime)")
    parser.add_argument("--profile-file", default=None, help="with --profile, also write the raw profile here")
    parser.add_argument("--verbose", action="store_true", help="print the time of each phase")
    args = parser.parse_args()
    if args.sign_inline:
        args.signing_processes = 0

    port = free_port()
    args.sink = f"http://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    sink = context.Process(target=run_sink, args=(port, ready), daemon=True)
    sink.start()
    args.sink_pid = sink.pid
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
        "driven_by": "run_once rounds" if args.run_once else "the worker's background loop",
        "signing": ("event loop" if args.signing_processes == 0 else
                    f"{auto_processes(args.signing_processes)} signing process(es) (node.federation.signpool)"),
    }
    if "signing_process_peak_rss_mb" in median:
        summary["signing_process_peak_rss_mb"] = median["signing_process_peak_rss_mb"]
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
