"""Several processes on one PostgreSQL: wake-ups by LISTEN/NOTIFY, claims that never overlap."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from node.app import open_node
from node.content import Draft
from node.db import queries, wakeups
from node.federation.delivery import DeliveryWorker
from node.services.publish import publish_article
from tests.cli_support import clean_env, fednode
from tests.delivery_support import add_followers, own_inbox_actor
from tests.fakes.remote import fake_remote
from tests.support import free_port, is_alive, make_settings, postgres_database, wait_for
from tests.workers_support import children_of

pytestmark = pytest.mark.postgres


async def test_a_delivery_queued_by_one_process_wakes_the_worker_of_another(tmp_path):
    """A worker that would look again only in an hour delivers at once: the publishing process's NOTIFY wakes it."""
    async with postgres_database() as url, fake_remote() as remote:
        settings = make_settings(tmp_path, database_url=url, run_worker=False)
        web, worker_node = await open_node(settings), await open_node(settings, migrate=False)
        try:
            alice = own_inbox_actor(remote, "alice")
            await add_followers(web, alice)
            worker = DeliveryWorker(worker_node, poll_interval=3600)
            await worker.start()
            worker_node.wakeups.on(wakeups.DELIVERIES, worker.wake)
            await wait_for(lambda: worker_node.wakeups.connected.is_set(), what="the worker's LISTEN connection")
            await asyncio.sleep(0.2)  # the worker's first look found nothing; it now waits an hour
            async with web.sessions.begin() as session:
                author = await queries.get_local_actor(session, settings.default_author)
                await publish_article(session, settings, Draft("Hello", "hello", "Text."), author)

            async def delivered() -> bool:
                async with web.sessions() as session:
                    return (await queries.count_deliveries_by_status(session)).get("delivered") == 1

            await wait_for(delivered, what="the article delivered once")
            assert [r["path"] for r in remote.received] == ["/users/alice/inbox"]
            await worker.stop()
        finally:
            await web.close()
            await worker_node.close()


async def test_workers_claiming_at_once_on_postgresql_take_different_rows(tmp_path):
    """Four workers claiming 50 rows each at the same moment split 150 rows with no row claimed twice."""
    async with postgres_database() as url, fake_remote() as remote:
        settings = make_settings(tmp_path, database_url=url, run_worker=False)
        nodes = [await open_node(settings)] + [await open_node(settings, migrate=False) for _ in range(3)]
        try:
            await add_followers(nodes[0], *(own_inbox_actor(remote, f"u{n}") for n in range(150)))
            async with nodes[0].sessions.begin() as session:
                author = await queries.get_local_actor(session, settings.default_author)
                await publish_article(session, settings, Draft("Hello", "hello", "Text."), author)
            workers = [DeliveryWorker(node) for node in nodes]
            claims = await asyncio.gather(*(worker.claim(50) for worker in workers))
            ids = [row.id for claim in claims for row in claim]
            assert len(ids) == len(set(ids)) == 150
        finally:
            for node in nodes:
                await node.close()


# --- fednode serve --workers N ---------------------------------------------------------------------

def get(port: int, path: str = "/healthz") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status


def test_serve_refuses_more_than_one_web_process_on_sqlite(tmp_path):
    """`serve --workers 2` on SQLite exits 2 and says why and what to do, before binding anything."""
    result = fednode(tmp_path, "serve", "--workers", "2", "--listen-port", str(free_port()))
    assert result.returncode == 2
    assert "--workers 2 needs PostgreSQL" in result.stderr
    assert "fednode db copy" in result.stderr


async def test_serve_runs_n_web_processes_on_one_port_and_replaces_one_that_dies(tmp_path):
    """Two web processes share the port; one killed with SIGKILL is replaced while the other answers; SIGTERM stops all."""
    async with postgres_database() as url:
        port = free_port()
        parent = subprocess.Popen(
            [sys.executable, "-m", "node", "serve", "--workers", "2", "--listen-port", str(port),
             "--database-url", url, "--keys-dir", str(tmp_path / "keys")],
            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            async def both_up() -> bool:
                return len(children_of(parent.pid)) == 2 and await asyncio.to_thread(_answers, port)

            await wait_for(both_up, 60, what=lambda: "2 web processes answering" + (
                f"; the parent exited: {parent.stderr.read()}" if parent.poll() is not None else ""))
            first = children_of(parent.pid)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            # The survivor answers meanwhile (the listening socket stays open in the parent and the other child)
            assert all([await asyncio.to_thread(get, port) == 200 for _ in range(5)])

            async def replaced() -> bool:
                now = children_of(parent.pid)
                return len(now) == 2 and victim not in now

            await wait_for(replaced, 60, what=f"a new process in place of {victim}")
            await wait_for(lambda: asyncio.to_thread(_answers, port), 60, what="the port to answer again")
            last = children_of(parent.pid)
            parent.send_signal(signal.SIGTERM)
            out, _ = await asyncio.to_thread(parent.communicate, timeout=60)
            assert parent.returncode == 0
            assert "[2 web processes]" in out
            assert not any(is_alive(pid) for pid in last)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()


def _answers(port: int) -> bool:
    try:
        return get(port, "/readyz") == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
