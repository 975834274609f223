"""What the connection guard (node/web/server.py) costs per request, against plain aiohttp, in one run.

The same tiny application is served by aiohttp's ``AppRunner`` (the baseline) and
by Fednode's ``GuardedRunner`` (idle and header timeouts, header budget,
connection cap), alternately, several rounds each.  A client in a separate
process sends the same keep-alive GETs (a few ordinary headers, like a fediverse
server's) over a fixed number of connections.  The server runs in this process,
so this process's CPU time per request is the server's cost; on a shared
machine that is far steadier than requests per second, which other processes
decide.  The ratio guarded/plain of CPU per request is what the guard costs; the
load average is printed beside it.

    python bench/server_guard.py [--requests 20000] [--connections 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from node.config import load  # noqa: E402
from node.web.server import GuardedRunner  # noqa: E402

HEADERS = {
    "Accept": "application/activity+json",
    "User-Agent": "Mastodon/4.3.0 (http.rb/5.2.0; +https://mastodon.example/)",
    "Date": "Thu, 03 Dec 2026 08:00:00 GMT",
    "Signature": 'keyId="https://mastodon.example/users/a#main-key",algorithm="rsa-sha256",'
                 'headers="(request-target) host date",signature="' + "A" * 344 + '"',
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def hello(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def client(port: int, requests: int, connections: int, result) -> None:
    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as http:
            per_worker = requests // connections

            async def worker() -> None:
                for _ in range(per_worker):
                    async with http.get(f"http://127.0.0.1:{port}/", headers=HEADERS) as response:
                        await response.read()

            await worker()  # warm up one connection
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return (per_worker * connections) / (time.perf_counter() - start)

    result.put(asyncio.run(run()))


async def measure(guarded: bool, requests: int, connections: int) -> float:
    app = web.Application()
    app.router.add_get("/", hello)
    port = free_port()
    settings = load(config_file=None, environ={}, read_default_file=False,
                    overrides={"listen_port": port, "base_url": f"http://127.0.0.1:{port}"})
    runner = GuardedRunner(app, settings) if guarded else web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        queue = multiprocessing.Queue()
        process = multiprocessing.Process(target=client, args=(port, requests, connections, queue))
        cpu = time.process_time()
        process.start()
        while process.is_alive() and queue.empty():
            await asyncio.sleep(0.05)
        cpu = time.process_time() - cpu
        queue.get()
        process.join()
        return cpu / requests * 1e6  # µs of server CPU per request
    finally:
        await runner.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain, guarded = [], []
    for round_number in range(args.rounds):
        # Alternate which goes first: the second of a pair tends to find a warmer (or busier) machine.
        order = (True, False) if round_number % 2 else (False, True)
        for guard in order:
            (guarded if guard else plain).append(await measure(guard, args.requests, args.connections))
    best_plain, best_guarded = min(plain), min(guarded)
    load1, load5, _ = os.getloadavg()
    print(f"plain aiohttp    : {best_plain:6.1f} µs server CPU per request "
          f"(best of {args.rounds}: {', '.join(f'{r:.1f}' for r in plain)})")
    print(f"guarded (fednode): {best_guarded:6.1f} µs server CPU per request "
          f"(best of {args.rounds}: {', '.join(f'{r:.1f}' for r in guarded)})")
    ratios = sorted(g / p for g, p in zip(guarded, plain))
    print(f"ratio guarded/plain: {best_guarded / best_plain:.3f} (best against best), "
          f"median of the rounds' ratios {ratios[len(ratios) // 2]:.3f}   load average {load1:.2f} {load5:.2f} "
          f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    asyncio.run(main())
