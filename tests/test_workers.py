"""Several processes on one PostgreSQL: wake-ups by LISTEN/NOTIFY, claims that never overlap."""

from __future__ import annotations

import asyncio

import pytest

from node.app import open_node
from node.content import Draft
from node.db import queries, wakeups
from node.federation.delivery import DeliveryWorker
from node.services.publish import publish_article
from tests.fakes.remote import fake_remote
from tests.support import make_settings, postgres_database
from tests.test_delivery import add_followers, own_inbox_actor

pytestmark = pytest.mark.postgres


async def wait_for(condition, seconds: float = 10.0) -> bool:
    """Poll ``condition()`` (async) until true or ``seconds`` pass; whether it became true."""
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


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
            assert await wait_for(lambda: _true(worker_node.wakeups.connected.is_set()))
            await asyncio.sleep(0.2)  # the worker's first look found nothing; it now waits an hour
            async with web.sessions.begin() as session:
                author = await queries.get_local_actor(session, settings.default_author)
                await publish_article(session, settings, Draft("Hello", "hello", "Text."), author)

            async def delivered() -> bool:
                async with web.sessions() as session:
                    return (await queries.count_deliveries_by_status(session)).get("delivered") == 1

            assert await wait_for(delivered)
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


async def _true(value: bool) -> bool:
    return value
