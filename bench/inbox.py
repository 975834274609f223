"""Inbox throughput against the floor any correct inbox pays, measured in one run.

(a) floor: a bare aiohttp handler that reads the body, parses the JSON, verifies a
    draft-cavage signature with a cached key and answers 202;
(b) Fednode: the real node (SQLite) taking signed replies and storing each as a
    comment in its thread (50,000 replies over 100 threads by default, 64 senders).

Both are driven by the same client from a separate process, with requests signed
before the clock starts, so the ratio (b)/(a) compares only the servers.  Both
servers run in this process, so its CPU time while a phase runs is the server's
CPU per request.

(c) storage floor: the least any inbox that keeps replies through SQLAlchemy and
    aiosqlite must add to (a): the two rows of each reply (the activity and the
    comment) written with Core executemany, 64 a transaction, and nothing else (no
    reads, no checks).  (a)'s CPU / ((a)'s CPU + (c)) is the best ratio such an
    inbox can reach on this machine.

(d) the moderation policy: after (b), the decide step (node.moderation.decide: its
    fact queries and the rules, with the shipped defaults) is run again on 2,048 stored
    replies, in batches of the sizes the store path gave it during (b), each in a
    transaction that is rolled back, once the node is idle (nothing else running); its
    CPU per reply is printed beside (b)'s whole CPU per reply (target: under 5 %).  Three
    times: as stored (every sender new, so every reply held), after every author is approved
    (still over the per-actor rate: each sender posted ~150 replies in the run, so still held),
    and with those posts moved two hours back (trusted and within their rate: nothing held,
    a forum's usual case).

With ``--workers N`` (N > 1), (b) is ``fednode serve --workers N`` instead: N web
processes (each with its inbox and processor) on one fresh PostgreSQL database
(127.0.0.1:5432, user postgres; created for the run and dropped after it), against
the same floor (a).  Its CPU per reply is the sum of the web processes' CPU, read
from /proc, with the PostgreSQL server's beside it (every ``postgres`` process of the
machine); (c) and (d) are not run.

The discussion page is measured by bench/pages.py (threads of 1,000 to 100,000 comments).

    python bench/inbox.py [--replies 50000] [--threads 100] [--senders 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from node.federation import httpsig  # noqa: E402
from node.federation.vocab import AS_NS, PUBLIC  # noqa: E402
from tests.workers_support import children_of  # noqa: E402

ACTORS = 64


# ---------------------------------------------------------------- the remote side

def make_keys(count: int) -> list[str]:
    """PEMs of ``count`` RSA-2048 keys (one per remote actor)."""
    pems = []
    for _ in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pems.append(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode())
    return pems


def actor_document(base: str, index: int, pem: str) -> dict:
    key = serialization.load_pem_private_key(pem.encode(), None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    actor = f"{base}/users/u{index}"
    return {"@context": [AS_NS, "https://w3id.org/security/v1"], "id": actor, "type": "Person",
            "preferredUsername": f"u{index}", "inbox": actor + "/inbox", "followers": actor + "/followers",
            "publicKey": {"id": actor + "#main-key", "owner": actor, "publicKeyPem": public}}


def reply_activity(number: int, target: str, remote_base: str, authors: int, threads: int) -> tuple[str, dict]:
    """Reply ``number``: its author (one of ``authors`` remote actors) and its Create of a Note
    answering one of the ``threads`` articles of ``target``, in Mastodon's shape."""
    actor = f"{remote_base}/users/u{number % authors}"
    note = {"id": f"{actor}/statuses/{number}", "type": "Note", "attributedTo": actor,
            "inReplyTo": f"{target}/articles/t{number % threads}", "content": f"<p>reply {number}</p>",
            "published": "2026-11-24T10:00:00Z", "to": [PUBLIC], "cc": [actor + "/followers"]}
    return actor, {"@context": AS_NS, "id": note["id"] + "/activity", "type": "Create", "actor": actor,
                   "to": note["to"], "cc": note["cc"], "object": note}


def sign_batch(args) -> list[tuple[bytes, dict[str, str]]]:
    """Sign a slice of the requests (runs in a worker process)."""
    target, remote_base, pems, start, stop, threads = args
    keys = [serialization.load_pem_private_key(p.encode(), None) for p in pems]
    signed = []
    for n in range(start, stop):
        who = n % len(keys)
        actor, activity = reply_activity(n, target, remote_base, len(keys), threads)
        body = json.dumps(activity).encode()
        headers = {"Content-Type": "application/activity+json"}
        headers.update(httpsig.sign_cavage("POST", target + "/inbox", headers, body, keys[who], actor + "#main-key"))
        headers.pop("Host")
        signed.append((body, headers))
    return signed


def presign(target: str, remote_base: str, pems: list[str], count: int, threads: int) -> list:
    """All requests, signed on every core before any timing starts."""
    workers = os.cpu_count() or 2
    step = -(-count // workers)
    jobs = [(target, remote_base, pems, i, min(count, i + step), threads) for i in range(0, count, step)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return [item for part in pool.map(sign_batch, jobs) for item in part]


def client_process(url: str, requests_file: str, senders: int, result) -> None:
    """Send every request with ``senders`` concurrent connections; report seconds and statuses."""
    import pickle

    with open(requests_file, "rb") as handle:
        requests = pickle.load(handle)

    async def run() -> None:
        queue = list(reversed(requests))
        statuses: dict[int, int] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders)) as http:
            async def sender() -> None:
                while queue:
                    body, headers = queue.pop()
                    async with http.post(url, data=body, headers=headers) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
            started = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(senders)))
            result.put((time.perf_counter() - started, statuses))
    asyncio.run(run())


async def drive(url: str, requests: list, senders: int) -> tuple[float, dict, float]:
    """Run the client in its own process while this process's event loop keeps serving.

    Returns (seconds, statuses, this process's CPU seconds meanwhile).
    """
    import pickle

    context = multiprocessing.get_context("spawn")
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as handle:
        pickle.dump(requests, handle)
    try:
        result = context.Queue()
        proc = context.Process(target=client_process, args=(url, handle.name, senders, result))
        cpu = time.process_time()
        proc.start()
        seconds, statuses = await asyncio.get_running_loop().run_in_executor(None, result.get)
        cpu = time.process_time() - cpu
        await asyncio.get_running_loop().run_in_executor(None, proc.join)
        return seconds, statuses, cpu
    finally:
        os.unlink(handle.name)


# ---------------------------------------------------------------- (a) the floor

async def start_floor(port: int, public_keys: dict[str, object]) -> web.AppRunner:
    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        json.loads(body)
        sig = httpsig.parse_request_signature("POST", f"http://{request.host}{request.raw_path}", request.headers,
                                              body, now=datetime.now(timezone.utc))
        httpsig.verify_signature(sig, public_keys[sig.key_id])
        return web.Response(status=202)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


# ---------------------------------------------------------------- (b) Fednode

async def seed_node(node, threads: int) -> None:
    from node.content import Draft
    from node.db import queries
    from node.services.publish import publish_article

    async with node.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, "editor")
        for i in range(threads):
            await publish_article(session, node.settings, Draft(f"Thread {i}", f"t{i}", "Discuss."), author)


async def count_comments(node) -> int:
    from sqlalchemy import func, select

    from node.db.models import Object

    async with node.node.sessions() as session:
        return await session.scalar(select(func.count(Object.id)).where(Object.kind == "comment"))


# ---------------------------------------------------------------- (c) the storage floor

async def floor_database(path: str):
    """A migrated SQLite database at ``path`` holding one remote actor (row 1) and one local article
    (row 1): what the storage floors write replies against.  Returns (engine, actor id, article id)."""
    from sqlalchemy import insert

    from node.db.engine import make_engine, upgrade
    from node.db.models import Actor, Object
    from node.db.types import utcnow

    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    actor, article = "https://remote.example/users/u", "https://local.example/articles/a"
    async with engine.begin() as connection:
        await connection.execute(insert(Actor.__table__), [{
            "ap_id": actor, "ap_type": "Person", "username": "u", "domain": "remote.example",
            "inbox": actor + "/inbox", "is_local": False}])
        await connection.execute(insert(Object.__table__), [{
            "ap_id": article, "ap_type": "Article", "kind": "article", "actor_id": 1, "is_local": True,
            "visibility": "public", "published": utcnow()}])
    return engine, actor, article


async def storage_floor(folder: Path, count: int) -> float:
    """CPU seconds per reply to write only its two rows (activity, comment), 64 a transaction."""
    from sqlalchemy import insert

    from node.db.models import Activity, Object
    from node.db.types import utcnow

    engine, actor, article = await floor_database(f"{folder}/storage-floor.db")
    started = time.process_time()
    for first in range(0, count, 64):
        activities, comments = [], []
        for n in range(first, min(count, first + 64)):
            note = {"id": f"{actor}/statuses/{n}", "type": "Note", "attributedTo": actor, "inReplyTo": article,
                    "content": f"<p>reply {n}</p>", "published": "2026-11-24T10:00:00Z", "to": [PUBLIC],
                    "cc": [actor + "/followers"]}
            activity = {"@context": AS_NS, "id": note["id"] + "/activity", "type": "Create", "actor": actor,
                        "to": note["to"], "cc": note["cc"], "object": note}
            activities.append({"ap_id": activity["id"], "ap_type": "Create", "is_local": False, "actor_ap_id": actor,
                               "object_ap_id": note["id"], "status": "received", "raw": activity})
            comments.append({"ap_id": note["id"], "ap_type": "Note", "kind": "comment", "is_local": False,
                             "actor_id": 1, "content": note["content"], "url": note["id"], "in_reply_to": article,
                             "parent_id": 1, "root_id": 1, "visibility": "public", "published": utcnow(),
                             "raw": note})
        async with engine.begin() as connection:  # what the inbox must commit before its 202
            await connection.execute(insert(Activity.__table__), activities)
        async with engine.begin() as connection:  # what storing in the thread must commit
            await connection.execute(insert(Object.__table__), comments)
    cpu = time.process_time() - started
    await engine.dispose()
    return cpu / count


def record_batches() -> list[int]:
    """From now until ``policy_cost`` runs, the size of every batch the store path hands the decide step."""
    from node.moderation import decide

    sizes: list[int] = []
    judge_many = decide.judge_many

    async def recording(node, session, items):
        sizes.append(len(items))
        return await judge_many(node, session, items)

    recording.original = judge_many  # type: ignore[attr-defined]
    decide.judge_many = recording  # the store path imports it when it stores a batch
    return sizes


async def quiet(seconds: float = 30.0) -> None:
    """Wait (at most ``seconds``) until this process is idle: after (b) the node still works for a while
    (the crawler's round of the threads just stored), and that is not the decide step's CPU."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.process_time()
        await asyncio.sleep(0.5)
        if time.process_time() - began < 0.005:
            return


async def policy_cost(node, sizes: list[int], count: int = 2048) -> tuple[float, float]:
    """CPU seconds per reply of the decide step, run on ``count`` stored replies in batches of the sizes the
    store path had in (b) (``sizes``, in their order), and the mean batch size."""
    from sqlalchemy import select

    from node.db.models import Object
    from node.moderation import decide

    decide.judge_many = getattr(decide.judge_many, "original", decide.judge_many)  # recorded enough
    async with node.node.sessions() as session:
        rows = (await session.scalars(select(Object).where(Object.kind == "comment").limit(count))).all()
        parents = {p.id: p for p in (await session.scalars(
            select(Object).where(Object.id.in_({r.parent_id for r in rows})))).all()}
    items = [decide.Incoming(r.raw, r.actor_id, parents[r.parent_id], parents.get(r.root_id), r.content)
             for r in rows if isinstance(r.raw, dict) and r.parent_id in parents]
    batches, start = [], 0
    for size in itertools.cycle(sizes or [128]):
        if start >= len(items):
            break
        batches.append(items[start:start + size])
        start += size
    await quiet()
    cpu = 0.0
    for batch in batches:
        async with node.node.sessions() as session:
            # The store path calls the decide step inside a transaction that has already read the
            # batch's posts: start from one with its connection checked out, so that is not counted.
            await session.execute(select(Object.id).limit(1))
            began = time.process_time()
            await decide.judge_many(node.node, session, batch)
            cpu += time.process_time() - began
            await session.rollback()  # leave no hold lines or hit counts behind
    return cpu / max(len(items), 1), len(items) / max(len(batches), 1)


async def age_all(node, hours: int = 2) -> None:
    """Move every stored comment ``hours`` back, as if each author had posted them earlier: a forum's
    regulars, whose last hour holds fewer posts than the rate rules' limits (the bench's 64 senders
    each sent about 150 within the run, so as stored every reply is over ``actor-rate``)."""
    from datetime import timedelta

    from sqlalchemy import bindparam, select, update

    from node.db.models import Object

    async with node.node.sessions.begin() as session:
        rows = (await session.execute(select(Object.id, Object.created_at).where(Object.kind == "comment"))).all()
        connection = await session.connection()
        await connection.execute(update(Object.__table__).where(Object.__table__.c.id == bindparam("row"))
                                 .values(created_at=bindparam("at")),
                                 [{"row": row_id, "at": at - timedelta(hours=hours)} for row_id, at in rows])


async def approve_all(node) -> None:
    """Show every held comment, as if a moderator had approved each author (the regulars of a forum)."""
    from sqlalchemy import update

    from node.db.models import Object

    async with node.node.sessions.begin() as session:
        await session.execute(update(Object).where(Object.moderation == "held").values(moderation="published"))


# ---------------------------------------------------------------- (b) with --workers: processes on PostgreSQL

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (the server is shared: other users count too)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += process_cpu(int(entry.name))
            except OSError:
                continue
    return total


async def postgres_database():
    """A fresh PostgreSQL database for this run: its asyncpg URL and the coroutine that drops it."""
    import uuid

    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    name = f"fednode_bench_inbox_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", drop


async def serve_processes(args, remote, pems, floor_rate: float) -> None:
    """(b) as ``fednode serve --workers N`` on PostgreSQL: the rates, the ratio and the web processes' CPU."""
    import signal
    import subprocess

    from node.app import open_node
    from tests.support import free_port, make_settings

    url, drop = await postgres_database()
    try:
        with tempfile.TemporaryDirectory() as folder:
            port = free_port()
            settings = make_settings(Path(folder), port, database_url=url, run_worker=False)
            node = await open_node(settings)  # migrates and makes the site's actors, as `serve` would
            try:
                await seed_node(_Opened(node), args.threads)
            finally:
                await node.close()
            env = {k: v for k, v in os.environ.items() if not k.startswith("FEDNODE_")}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                              env.get("PYTHONPATH")]))
            # The shipped settings (moderation included), as the one-process run has them.
            command = [sys.executable, "-m", "node", "serve", "--workers", str(args.workers), "--no-run-worker",
                       "--listen-port", str(port), "--database-url", url, "--keys-dir", settings.keys_dir,
                       "--base-url", settings.base_url, "--allow-http", "--allow-private-network",
                       "--signing-processes", "0", "--log-level", "WARNING"]
            with open(Path(folder) / "serve.log", "wb") as log:
                parent = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                await _wait_until_serving(settings.base_url, parent.pid, args.workers, Path(folder) / "serve.log")
                print(f"signing {args.replies} requests for {args.workers} Fednode processes...", flush=True)
                requests = presign(settings.base_url, remote.base, pems, args.replies, args.threads)
                web = sorted(children_of(parent.pid))
                before = {pid: process_cpu(pid) for pid in web}
                database_cpu = postgres_cpu()
                started = time.perf_counter()
                seconds, statuses, _ = await drive(settings.base_url + "/inbox", requests, args.senders)
                stored = await _wait_until_stored(url, args.replies)
                stored_seconds = time.perf_counter() - started
                cpu = sum(process_cpu(pid) - before[pid] for pid in web)
                database_cpu = postgres_cpu() - database_cpu  # backends that ended meanwhile are missed
                alive = children_of(parent.pid)
            finally:
                parent.send_signal(signal.SIGTERM)
                try:
                    parent.wait(60)
                except subprocess.TimeoutExpired:
                    parent.kill()
            if set(web) != alive:
                print(f"warning: the web processes changed during the run ({web} -> {sorted(alive)}): "
                      "the CPU figure misses the ones that died", flush=True)
    finally:
        await drop()
    rate, stored_rate = args.replies / seconds, stored / stored_seconds
    print(f"(b) Fednode, {args.workers} processes on PostgreSQL, answered: {rate:,.0f} req/s  {statuses}; "
          f"{cpu * 1e6 / args.replies:.0f} µs CPU per reply (the web processes together), answered and stored; "
          f"PostgreSQL {database_cpu * 1e6 / args.replies:.0f} µs")
    print(f"(b) stored in threads: {stored:,} comments in {stored_seconds:.1f} s = {stored_rate:,.0f}/s")
    print(f"ratio (b answered)/(a): {rate / floor_rate:.2f}   ratio (b stored)/(a): {stored_rate / floor_rate:.2f}"
          f"   (target 0.4)   load {os.getloadavg()[0]:.1f}", flush=True)


class _Opened:
    """``seed_node`` takes a running test node (``.node``); this gives it one opened with ``open_node``."""

    def __init__(self, node) -> None:
        self.node = node
        self.settings = node.settings


async def _wait_until_serving(base_url: str, parent: int, workers: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(base_url + "/readyz") as response:
                    if response.status == 200 and len(children_of(parent)) == workers:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"fednode serve did not come up in 120 s:\n{log.read_text()[-3000:]}")


async def _wait_until_stored(database_url: str, expected: int, patience: float = 120) -> int:
    """Poll the comment count until every reply is stored (or it stops growing for ``patience`` s)."""
    from node.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        last, since = -1, time.monotonic()
        while True:
            count = await _count(sessions)
            if count >= expected:
                return count
            if count != last:
                last, since = count, time.monotonic()
            elif time.monotonic() - since > patience:
                return count
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def _count(sessions) -> int:
    from sqlalchemy import func, select

    from node.db.models import Object

    async with sessions() as session:
        return await session.scalar(select(func.count(Object.id)).where(Object.kind == "comment"))


async def main(args) -> None:
    from tests.fakes.remote import fake_remote
    from tests.support import POLICY_DEFAULTS, free_port, make_settings, running_node

    print(f"generating {ACTORS} remote keys...", flush=True)
    pems = make_keys(ACTORS)
    async with fake_remote() as remote:
        public_keys = {}
        for i, pem in enumerate(pems):
            doc = actor_document(remote.base, i, pem)
            remote.serve(f"/users/u{i}", doc)
            public_keys[doc["publicKey"]["id"]] = httpsig.load_public_key(doc["publicKey"]["publicKeyPem"])

        floor_port = free_port()
        floor_target = f"http://127.0.0.1:{floor_port}"
        print(f"signing {args.replies} requests for the floor...", flush=True)
        floor_requests = presign(floor_target, remote.base, pems, args.replies, args.threads)
        runner = await start_floor(floor_port, public_keys)
        floor_seconds, floor_statuses, floor_cpu = await drive(floor_target + "/inbox", floor_requests, args.senders)
        await runner.cleanup()
        del floor_requests
        floor_rate = args.replies / floor_seconds
        floor_per_request = floor_cpu / args.replies
        print(f"(a) floor: {floor_rate:,.0f} req/s, {floor_per_request * 1e6:.0f} µs CPU per request  {floor_statuses}"
              f"   load {os.getloadavg()[0]:.1f}", flush=True)
        if args.workers > 1:
            await serve_processes(args, remote, pems, floor_rate)
            return
        with tempfile.TemporaryDirectory() as folder:
            storage = await storage_floor(Path(folder), args.replies)
        print(f"(c) storage floor: {storage * 1e6:.0f} µs CPU per reply; the best ratio an inbox storing through "
              f"SQLAlchemy/aiosqlite can reach here: {floor_per_request / (floor_per_request + storage):.2f}", flush=True)

        with tempfile.TemporaryDirectory() as folder:
            # The shipped moderation defaults: every reply goes through the whole policy.
            settings = make_settings(Path(folder), run_worker=False, **POLICY_DEFAULTS)
            async with running_node(settings) as node:
                await seed_node(node, args.threads)
                print(f"signing {args.replies} requests for Fednode...", flush=True)
                requests = presign(node.base, remote.base, pems, args.replies, args.threads)
                started = time.perf_counter()
                sizes = record_batches()  # (d) replays the decide step in batches of these sizes
                seconds, statuses, cpu = await drive(node.url("/inbox"), requests, args.senders)
                cpu -= time.process_time()
                await node.node.processor.drain()
                cpu += time.process_time()
                stored_seconds = time.perf_counter() - started
                stored = await count_comments(node)
                rate = args.replies / seconds
                stored_rate = stored / stored_seconds
                print(f"(b) Fednode answered: {rate:,.0f} req/s  {statuses}; "
                      f"{cpu * 1e6 / args.replies:.0f} µs CPU per reply, answered and stored")
                print(f"(b) Fednode stored in threads: {stored:,} comments in {stored_seconds:.1f} s = {stored_rate:,.0f}/s")
                print(f"ratio (b answered)/(a): {rate / floor_rate:.2f}   ratio (b stored)/(a): {stored_rate / floor_rate:.2f}"
                      f"   (target 0.4)   load {os.getloadavg()[0]:.1f}", flush=True)
                whole = cpu / args.replies
                # Every sender was new here, so every reply was held: the worst case (a mod log
                # line and a rule hit for each).  Then the usual case: authors already trusted.
                held, mean = await policy_cost(node, sizes)
                await approve_all(node)
                trusted, _ = await policy_cost(node, sizes)
                # And the usual case of a forum: trusted authors within their rate (nothing held).
                await age_all(node)
                regulars, _ = await policy_cost(node, sizes)
                print(f"(d) moderation policy, trusted authors: {trusted * 1e6:.0f} µs CPU per reply = "
                      f"{trusted / whole:.1%} of (b)'s {whole * 1e6:.0f} µs (target: under 5 %); every reply held: "
                      f"{held * 1e6:.0f} µs = {held / whole:.1%}; trusted and within their rate (nothing held): "
                      f"{regulars * 1e6:.0f} µs = {regulars / whole:.1%}; batches of (b)'s sizes (mean {mean:.0f})   "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1,
                        help="run (b) as `fednode serve --workers N` on a fresh PostgreSQL database")
    asyncio.run(main(parser.parse_args()))
