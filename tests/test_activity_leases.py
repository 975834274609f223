"""Received activities are claimed with a lease: any number of processors apply each exactly once.

Time is moved with the processors' clock seam, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from node.app import open_node
from node.content import Draft
from node.db import activities, queries
from node.db.activities import LeaseLost
from node.db.models import Activity, Object
from node.db.types import utcnow
from node.federation.outcomes import Outcome
from node.federation import processor as processor_module
from node.federation.processor import LEASE, Processor
from node.services.publish import publish_article
from tests.support import make_settings, postgres_database

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SENDERS = [f"https://social{i}.example/users/u{i}" for i in range(10)]


def reply(number: int, article: str) -> tuple[str, dict]:
    """A Mastodon-shaped Create of a public reply to ``article``, by one of ten remote accounts."""
    actor = SENDERS[number % len(SENDERS)]
    note = {"id": f"{actor}/statuses/{number}", "type": "Note", "attributedTo": actor, "inReplyTo": article,
            "content": f"<p>reply {number}</p>", "published": "2026-12-01T10:00:00Z", "to": [PUBLIC],
            "cc": [f"{actor}/followers"]}
    return actor, {"id": note["id"] + "/activity", "type": "Create", "actor": actor, "to": [PUBLIC], "object": note}


@contextlib.asynccontextmanager
async def two_nodes(database_url: str | None, tmp_path):
    """Two nodes (two engines, as two processes would have) on one database, with an article."""
    overrides = {"database_url": database_url} if database_url else {}
    settings = make_settings(tmp_path, **overrides)
    first = await open_node(settings)
    second = await open_node(settings)
    try:
        async with first.sessions.begin() as session:
            author = await queries.get_local_actor(session, "editor")
            published = await publish_article(session, settings, Draft("Topic", "topic", "Let us talk."), author)
            for actor in SENDERS:
                await queries.upsert_remote_actor(session, dict(
                    ap_id=actor, ap_type="Person", username=actor.rsplit("/", 1)[1], domain=actor.split("/")[2],
                    inbox=actor + "/inbox", raw={"id": actor}))
        yield first, second, published.article.ap_id
    finally:
        await first.close()
        await second.close()


async def store_received(node, activities_: list[tuple[str, dict]]) -> list[int]:
    async with node.sessions.begin() as session:
        rows = [Activity(ap_id=a["id"], ap_type=a["type"], actor_ap_id=actor, object_ap_id=a["object"]["id"],
                         status="received", raw=a) for actor, a in activities_]
        session.add_all(rows)
    return [row.id for row in rows]


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request):
    if request.param == "sqlite":
        yield None
    else:
        async with postgres_database() as url:
            yield url


async def test_two_processors_on_one_database_apply_a_thousand_activities_exactly_once(
        database_url, tmp_path, monkeypatch):
    """Both claim from the same queue at once; every row is settled by exactly one, and stored once."""
    settled: Counter[int] = Counter()
    by_owner: dict[str, set[int]] = {}
    real_settle = activities.settle_activities

    async def counting_settle(session, owner, outcomes, *, now):
        await real_settle(session, owner, outcomes, now=now)
        settled.update(list(outcomes))
        by_owner.setdefault(owner, set()).update(outcomes)

    monkeypatch.setattr(activities, "settle_activities", counting_settle)
    async with two_nodes(database_url, tmp_path) as (first, second, article):
        ids = await store_received(first, [reply(n, article) for n in range(1000)])
        processors = [Processor(first), Processor(second)]
        for processor in processors:
            await processor.start()
        try:
            async def all_settled() -> None:
                while True:
                    async with first.sessions() as session:
                        if await activities.count_waiting(session) == 0:
                            return
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(all_settled(), timeout=120)
        finally:
            for processor in processors:
                await processor.stop()
        async with first.sessions() as session:
            statuses = Counter((await session.scalars(select(Activity.status).where(Activity.is_local.is_(False)))).all())
            held = await queries.get_object(session, article)
            comments = await session.scalar(select(func.count(Object.id)).where(Object.root_id == held.id))
    assert set(settled) == set(ids) and set(settled.values()) == {1}
    assert sum(len(rows) for rows in by_owner.values()) == 1000  # no row settled by both
    assert (statuses, comments, held.replies_count) == (Counter({"applied": 1000}), 1000, 1000)


async def test_a_claimed_row_is_left_to_its_owner_until_the_lease_runs_out(tmp_path):
    """A processor that died holding a row: the row waits for its lease, then another applies it."""
    async with two_nodes(None, tmp_path) as (first, second, article):
        [row_id] = await store_received(first, [reply(1, article)])
        start = utcnow()
        async with first.sessions.begin() as session:  # the processor that will die
            assert await activities.claim_activities(session, "dead", 10, LEASE, now=start) == [row_id]
        clock = [start + timedelta(minutes=1)]
        survivor = Processor(second, clock=lambda: clock[0])
        assert await survivor.run_once(everything=True) == 0  # still leased
        clock[0] = start + LEASE + timedelta(seconds=1)
        assert await survivor.run_once(everything=True) == 1
        async with first.sessions() as session:
            row = await session.get(Activity, row_id)
            stored = await queries.get_object(session, reply(1, article)[1]["object"]["id"])
        assert (row.status, row.lease_owner, stored is not None) == ("applied", None, True)


async def test_a_processor_that_stops_gives_back_what_it_claimed_and_did_not_apply(tmp_path, monkeypatch):
    """Stopped while a claimed reply waits for its parent's fetch: another process claims the row at once."""
    async with two_nodes(None, tmp_path) as (first, second, article):
        actor, create = reply(4, article)
        create["object"]["inReplyTo"] = "https://elsewhere.example/notes/1"  # a parent that must be fetched
        [row_id] = await store_received(first, [(actor, create)])
        fetching = asyncio.Event()

        async def hanging_fetch(url, *, signed=True):
            fetching.set()
            await asyncio.Event().wait()  # a remote that never answers

        monkeypatch.setattr(first.fetcher, "get_activitypub", hanging_fetch)
        stopping = Processor(first)
        assert await stopping.run_once(everything=True) == 1
        await asyncio.wait_for(fetching.wait(), timeout=10)
        await stopping.stop()
        async with second.sessions.begin() as session:  # long before the 10-minute lease would end
            assert await activities.claim_activities(session, "other", 10, LEASE, now=utcnow()) == [row_id]


async def test_rows_stored_by_another_process_wake_a_processor_without_waiting_for_its_poll(tmp_path, monkeypatch):
    """PostgreSQL: the NOTIFY sent when received activities commit wakes the other process's processor."""
    monkeypatch.setattr(processor_module, "POLL_SECONDS", 3600.0)  # only a wake-up can make it look
    async with postgres_database() as url, two_nodes(url, tmp_path) as (first, second, article):
        listening = Processor(second)
        await listening.start()
        try:
            await asyncio.wait_for(second.wakeups.connected.wait(), timeout=10)
            await asyncio.wait_for(listening.drain(), timeout=10)  # its first look found nothing
            actor, create = reply(5, article)
            async with first.sessions.begin() as session:  # as another process's inbox stores it
                [row_id] = (await activities.insert_received(session, [{
                    "ap_id": create["id"], "ap_type": "Create", "is_local": False, "actor_ap_id": actor,
                    "object_ap_id": create["object"]["id"], "status": "received", "raw": create}])).values()

            async def applied() -> None:
                while True:
                    async with first.sessions() as session:
                        if (await session.get(Activity, row_id)).status == "applied":
                            return
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(applied(), timeout=15)
            async with first.sessions() as session:
                assert (await session.get(Activity, row_id)).status == "applied"
        finally:
            await listening.stop()


async def test_a_row_applied_again_after_a_crash_is_not_stored_twice(tmp_path):
    """The effects are there but the row still says received (a crash between): applying again changes nothing."""
    async with two_nodes(None, tmp_path) as (first, second, article):
        actor, create = reply(2, article)
        [done] = await store_received(first, [(actor, create)])
        await Processor(first).apply_many([done])
        # The same activity stored again under another id, as if its outcome had never been recorded.
        again = {**create, "id": create["id"] + "#again"}
        [row_id] = await store_received(first, [(actor, again)])
        await Processor(second).apply_many([row_id])
        async with first.sessions() as session:
            row = await session.get(Activity, row_id)
            count = await session.scalar(select(func.count(Object.id)).where(Object.ap_id == create["object"]["id"]))
            held = await queries.get_object(session, article)
        assert (row.status, row.error, count, held.replies_count) == ("ignored", "ignored: already stored", 1, 1)


async def test_a_failure_never_overwrites_an_outcome_and_only_the_owner_settles(tmp_path):
    async with two_nodes(None, tmp_path) as (first, second, article):
        [row_id] = await store_received(first, [reply(3, article)])
        now = utcnow()
        async with first.sessions.begin() as session:
            await activities.claim_activities(session, "owner", 1, LEASE, now=now)
        with pytest.raises(LeaseLost):
            async with first.sessions.begin() as session:
                await activities.settle_activities(session, "someone else", {row_id: Outcome.applied()}, now=now)
        async with first.sessions.begin() as session:
            await activities.settle_activities(session, "owner", {row_id: Outcome.applied()}, now=now)
        async with first.sessions.begin() as session:
            assert await activities.fail_activity(session, "owner", row_id, "RuntimeError: late", now=now) is False
        async with first.sessions() as session:
            row = await session.get(Activity, row_id)
        assert (row.status, row.error) == ("applied", None)


def reading_back(monkeypatch) -> list[int]:
    """The row ids the processors read back from the database (what the inbox did not hand over)."""
    read: list[int] = []
    real_read = activities.read_activities

    async def recording(session, ids):
        read.extend(ids)
        return await real_read(session, ids)

    monkeypatch.setattr(activities, "read_activities", recording)
    return read


async def run_until_drained(processor: Processor) -> None:
    """Start ``processor``, wait until it has applied everything it can, and stop it."""
    await processor.start()
    try:
        await asyncio.wait_for(processor.drain(), 30)
    finally:
        await processor.stop()


async def comments_stored(node, creates: list[tuple[str, dict]]) -> int:
    async with node.sessions() as session:
        return await session.scalar(select(func.count(Object.id)).where(
            Object.ap_id.in_([create["object"]["id"] for _, create in creates])))


async def test_handed_activities_are_not_read_back_and_the_others_are(tmp_path, monkeypatch):
    """What the inbox hands over is applied as handed; a row notified by id alone is read from the database."""
    read = reading_back(monkeypatch)
    async with two_nodes(None, tmp_path) as (node, _, article):
        creates = [reply(n, article) for n in range(6)]
        ids = await store_received(node, creates)
        processor = Processor(node)
        for row_id, (actor, create) in zip(ids[:3], creates[:3]):
            processor.notify(row_id, create, actor)
        for row_id in ids[3:]:
            processor.notify(row_id)
        await run_until_drained(processor)
        assert sorted(read) == ids[3:]
        assert await comments_stored(node, creates) == 6


async def test_after_a_restart_what_was_handed_over_is_applied_from_the_database(tmp_path, monkeypatch):
    """A processor stopped before applying what its inbox handed over: the next one (a restart) applies
    every row from the database, each once."""
    read = reading_back(monkeypatch)
    async with two_nodes(None, tmp_path) as (node, _, article):
        creates = [reply(n, article) for n in range(5)]
        ids = await store_received(node, creates)
        gone = Processor(node)
        for row_id, (actor, create) in zip(ids, creates):
            gone.notify(row_id, create, actor)
        # Never started: its hand-off dies with it, as a process killed right after its inbox's commit.
        restarted = Processor(node)
        await run_until_drained(restarted)
        assert sorted(read) == ids
        assert await comments_stored(node, creates) == 5
        async with node.sessions() as session:
            states = Counter((await session.scalars(select(Activity.status).where(Activity.id.in_(ids)))).all())
        assert states == {"applied": 5}


async def test_the_hand_off_keeps_at_most_its_bound_and_reads_the_rest_back(tmp_path, monkeypatch):
    """An inbox ahead of its processor does not grow the processor's memory: copies beyond ``HANDED``
    are not kept, and those rows are read back when claimed."""
    monkeypatch.setattr(processor_module, "HANDED", 2)
    read = reading_back(monkeypatch)
    async with two_nodes(None, tmp_path) as (node, _, article):
        creates = [reply(n, article) for n in range(5)]
        ids = await store_received(node, creates)
        processor = Processor(node)
        for row_id, (actor, create) in zip(ids, creates):
            processor.notify(row_id, create, actor)
        await run_until_drained(processor)
        assert sorted(read) == ids[2:]
        assert await comments_stored(node, creates) == 5
