"""Two web processes and two workers on one PostgreSQL, with one of each killed midway.

An article is published to 2,000 followers on 200 servers (200 shared inboxes) while 2,000
signed Mastodon-shaped replies arrive over 32 connections.  Midway one web process and one
worker are killed with SIGKILL; `serve --workers 2` starts its web process again, the test
starts the worker again.  Senders retry what failed, as real servers do.  Afterwards every
reply is stored and applied exactly once, every inbox has the article, and the duplicates
are no more than the killed worker can have had in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, insert, select

from node.app import open_node
from node.content import Draft
from node.db import queries
from node.db.models import Activity, Actor, Follow, Object
from node.services.publish import publish_article
from tests.cli_support import clean_env
from tests.factories import reply_to
from tests.fakes.remote import fake_remote, signed_post
from tests.support import free_port, make_settings, postgres_database, wait_for
from tests.workers_support import children_of

pytestmark = pytest.mark.postgres

FOLLOWERS, HOSTS = 2000, 200
REPLIES, SENDERS, REPLIERS = 2000, 32, 20
CONCURRENCY, SLOW_LANE = 8, 4  # per worker: the bound on deliveries sent but not recorded


def flags(settings) -> list[str]:
    return ["--database-url", settings.database_url, "--keys-dir", settings.keys_dir,
            "--base-url", settings.base_url, "--allow-http", "--allow-private-network",
            "--signing-processes", "0", "--log-level", "WARNING",
            # A lease must outlast a post that has begun (connect, send, answer, record), or a live
            # worker's row is claimed again mid-post and sent twice: under load 3 s was too short.
            # The apply lease is the shortest allowed (one document fetch): the killed web process's
            # claimed replies are applied by another a minute after the kill, within the wait below.
            "--delivery-lease-seconds", "15", "--apply-lease-seconds", "60",
            "--delivery-concurrency", str(CONCURRENCY), "--delivery-slow-lane", str(SLOW_LANE)]


def start(folder: Path, log: str, *args: str) -> subprocess.Popen:
    with open(folder / log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "node", *args], cwd=folder, env=clean_env(),
                                stdout=out, stderr=subprocess.STDOUT)


async def add_followers(settings, sink: str) -> None:
    """2,000 readers following the author, ten on each of 200 servers sharing one inbox per server."""
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            author = await queries.get_local_actor(session, settings.default_author)
            await session.execute(insert(Actor), [{
                "ap_id": f"{sink}/h{n % HOSTS}/users/u{n}", "ap_type": "Person", "is_local": False,
                "username": f"u{n}", "domain": f"h{n % HOSTS}.test", "inbox": f"{sink}/h{n % HOSTS}/users/u{n}/inbox",
                "shared_inbox": f"{sink}/h{n % HOSTS}/inbox"} for n in range(FOLLOWERS)])
            ids = (await session.scalars(select(Actor.id).where(Actor.is_local.is_(False)))).all()
            await session.execute(insert(Follow), [
                {"follower_id": i, "followed_id": author.id, "state": "accepted"} for i in ids])
    finally:
        await node.close()


async def publish(settings) -> str:
    node = await open_node(settings, migrate=False)
    try:
        async with node.sessions.begin() as session:
            author = await queries.get_local_actor(session, settings.default_author)
            published = await publish_article(session, settings, Draft("Scale", "scale", "Many readers."), author)
        assert published.deliveries == HOSTS
        return settings.base + "/articles/scale"
    finally:
        await node.close()


async def send_all(http, inbox: str, replies: list, actors: list, accepted: list) -> None:
    """Send every reply, retrying refused connections and 5xx as a real server's queue would."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in zip(replies, actors):
        queue.put_nowait(item)

    async def sender() -> None:
        while not queue.empty():
            activity, actor = queue.get_nowait()
            for _ in range(100):
                try:
                    status, _ = await signed_post(http, inbox, activity, actor)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    status = None
                if status == 202:
                    accepted.append(activity["id"])
                    break
                assert status is None or status >= 500, f"{activity['id']}: {status}"
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"{activity['id']} was never accepted")

    await asyncio.gather(*(sender() for _ in range(SENDERS)))


async def test_two_web_and_two_workers_lose_nothing_when_one_of_each_is_killed(tmp_path):
    async with postgres_database() as url, fake_remote() as remote:
        remote.inbox_delay = 0.3  # the 200 servers answer in 300 ms: the fan-out is still running at the kill
        port = free_port()
        settings = make_settings(tmp_path, port, database_url=url, run_worker=False)
        await add_followers(settings, remote.base)
        repliers = [remote.add_actor(f"r{n}", key_index=n) for n in range(REPLIERS)]
        web = start(tmp_path, "web.log", "serve", "--workers", "2", "--no-run-worker", "--listen-port", str(port),
                    *flags(settings))
        workers = [start(tmp_path, f"worker{n}.log", "worker", *flags(settings)) for n in range(2)]
        processes = [web, *workers]
        try:
            async def up() -> bool:
                try:
                    async with aiohttp.ClientSession() as http, http.get(settings.base + "/readyz") as response:
                        return response.status == 200 and len(children_of(web.pid)) == 2
                except aiohttp.ClientError:
                    return False

            await wait_for(up, 90, what=lambda: "the web process and its 2 children to answer; web.log:\n"
                           + (tmp_path / "web.log").read_text())
            article = settings.base + "/articles/scale"
            replies = [reply_to(article, repliers[n % REPLIERS]) for n in range(REPLIES)]
            actors = [repliers[n % REPLIERS] for n in range(REPLIES)]
            accepted: list[str] = []
            # A request answered by no one (its process died holding it) is given up and sent again.
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SENDERS),
                                             timeout=aiohttp.ClientTimeout(total=30)) as http:
                # The article goes out to its 200 inboxes while the replies to it pour in
                await publish(settings)
                sending = asyncio.create_task(send_all(http, settings.base + "/inbox", replies, actors, accepted))
                # Midway through both: one web process and one worker die without a chance to clean up
                await wait_for(lambda: len(remote.received) >= 20 and len(accepted) >= 200, 60,
                               what=lambda: f"20 deliveries and 200 accepted replies "
                                            f"(saw {len(remote.received)} and {len(accepted)})")
                victim = min(children_of(web.pid))
                os.kill(victim, signal.SIGKILL)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait(10)
                killed_at, delivered_at_kill = len(accepted), len(remote.received)
                processes.append(start(tmp_path, "worker0-again.log", "worker", *flags(settings)))
                try:
                    async with asyncio.timeout(180):
                        await sending
                except TimeoutError:
                    raise AssertionError(f"only {len(accepted)} of {REPLIES} replies accepted in 3 minutes; "
                                         f"{await counts(settings)}") from None
            assert 0 < killed_at < REPLIES, "the kill did not come while replies were arriving"
            assert delivered_at_kill < HOSTS, "the kill came after the fan-out"
            assert sorted(accepted) == sorted(r["id"] for r in replies)

            async def settled() -> bool:
                node_counts = await counts(settings)
                return node_counts["applied"] == REPLIES and node_counts["pending"] == 0

            async def unsettled() -> str:
                return f"all {REPLIES} replies applied and none pending: {await counts(settings)}"

            await wait_for(settled, 120, what=unsettled)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        # Every reply stored once, in the thread, and counted once (the article counts the comments it
        # shows: moderation may hold a burst from new accounts)
        final = await counts(settings)
        assert final["comments"] == REPLIES
        assert final["replies_count"] == final["shown"]
        # Every inbox has the article, and duplicates are only what the killed worker had in flight
        sent = Counter((r["path"], json.loads(r["body"])["id"]) for r in remote.received if r["path"].endswith("/inbox"))
        creates = {r["path"] for r in remote.received
                   if r["path"].endswith("/inbox") and json.loads(r["body"])["type"] == "Create"}
        assert creates == {f"/h{n}/inbox" for n in range(HOSTS)}, Counter(
            json.loads(r["body"])["type"] for r in remote.received)
        assert sum(sent.values()) - len(sent) <= CONCURRENCY + SLOW_LANE


async def counts(settings) -> dict[str, int]:
    node = await open_node(settings, migrate=False)
    try:
        async with node.sessions() as session:
            applied = await session.scalar(select(func.count()).select_from(Activity).where(
                Activity.is_local.is_(False), Activity.ap_type == "Create", Activity.status == "applied"))
            comments = await session.scalar(select(func.count()).select_from(Object).where(Object.kind == "comment"))
            replies_count = await session.scalar(select(Object.replies_count).where(Object.slug == "scale"))
            shown = await session.scalar(select(func.count()).select_from(Object).where(
                Object.kind == "comment", Object.moderation == "published"))
            deliveries = await queries.count_deliveries_by_status(session)
        return {"applied": applied, "comments": comments, "replies_count": replies_count or 0, "shown": shown,
                "delivered": deliveries.get("delivered", 0), "pending": deliveries.get("pending", 0)}
    finally:
        await node.close()

