"""The SQLite connection under SQLAlchemy (node/db/sqlite_driver.py): one-trip cursors and the write gate.

Through the node's real engine (``make_engine``) on a file database: results of every
size come back whole and in order (a long one read on in chunks, a streamed one too),
writes report their row counts and RETURNING rows, and this process's writers take
turns on the engine's write gate: the second waits for the first to commit instead of
failing, the gate is free again after a rollback or an error, and a writer that waits
past the busy timeout fails as SQLite's own lock would ("database is locked", which
``node.db.busy`` answers 503).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from node.db import sqlite_driver
from node.db.busy import is_database_busy
from node.db.engine import make_engine

METADATA = MetaData()
ITEMS = Table("items", METADATA, Column("id", Integer, primary_key=True), Column("name", String, unique=True))


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}", busy_timeout=1)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    yield engine
    await engine.dispose()


async def test_results_of_every_size_come_back_whole_and_in_order(engine):
    count = sqlite_driver.CHUNK * 2 + 7  # more than one chunk: read on after the statement's own trip
    async with engine.begin() as connection:
        inserted = await connection.execute(insert(ITEMS).returning(ITEMS.c.id), [{"name": f"n{i}"} for i in range(count)])
        assert len(inserted.all()) == count
    async with engine.connect() as connection:
        assert (await connection.execute(select(ITEMS.c.name).where(ITEMS.c.id == 1))).scalar_one() == "n0"
        assert (await connection.execute(select(ITEMS.c.id).where(ITEMS.c.id < 0))).all() == []
        names = (await connection.execute(select(ITEMS.c.name).order_by(ITEMS.c.id))).scalars().all()
        assert names == [f"n{i}" for i in range(count)]
        streamed = [row.name async for row in await connection.stream(select(ITEMS.c.name).order_by(ITEMS.c.id))]
        assert streamed == names
        # A stream left half-read is closed, and the connection goes on.
        partial = await connection.stream(select(ITEMS.c.name).order_by(ITEMS.c.id))
        assert len(await partial.fetchmany(3)) == 3
        await partial.close()
        assert await connection.scalar(select(func.count()).select_from(ITEMS)) == count


async def test_writes_report_their_row_counts_and_returned_rows(engine):
    async with engine.begin() as connection:
        result = await connection.execute(insert(ITEMS).values(name="a"))
        assert result.inserted_primary_key == (1,)
        await connection.execute(insert(ITEMS), [{"name": "b"}, {"name": "c"}])
        changed = await connection.execute(update(ITEMS).where(ITEMS.c.name != "a").values(name=ITEMS.c.name + "!"))
        assert changed.rowcount == 2
        returned = await connection.execute(
            update(ITEMS).where(ITEMS.c.name == "a").values(name="z").returning(ITEMS.c.id, ITEMS.c.name))
        assert returned.all() == [(1, "z")]
    async with engine.connect() as connection:
        assert (await connection.execute(select(ITEMS.c.name).order_by(ITEMS.c.id))).scalars().all() == ["z", "b!", "c!"]


async def test_a_second_writer_waits_for_the_first_to_commit_and_then_writes(engine):
    order: list[str] = []
    first_wrote, second_read = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="first"))
            first_wrote.set()
            await second_read.wait()  # still holding the write lock when the second one asks for it
            await asyncio.sleep(0.1)
            order.append("first commits")

    async def second() -> None:
        await first_wrote.wait()
        async with engine.begin() as connection:
            # Reading takes no turn: it runs while the first holds the gate (or this would wait for ever).
            assert await connection.scalar(select(func.count()).select_from(ITEMS)) == 0
            order.append("second read")
            second_read.set()
            await connection.execute(insert(ITEMS).values(name="second"))
            order.append("second wrote")

    await asyncio.gather(first(), second())
    assert order == ["second read", "first commits", "second wrote"]
    async with engine.connect() as connection:
        assert sorted((await connection.execute(select(ITEMS.c.name))).scalars().all()) == ["first", "second"]


async def test_the_gate_is_free_again_after_a_rollback_or_a_failed_write(engine):
    with pytest.raises(RuntimeError):
        async with engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="dup"))
            raise RuntimeError("the caller gives up: rolled back")
    async with engine.begin() as connection:
        await connection.execute(insert(ITEMS).values(name="dup"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="dup"))  # the unique name: the write itself fails
    # Were the gate still held, this would wait out the busy timeout and fail as "database is locked".
    async with engine.begin() as connection:
        await connection.execute(insert(ITEMS).values(name="after"))


async def test_a_writer_waiting_past_the_busy_timeout_fails_as_a_locked_database(engine):
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(ITEMS).values(name="held"))
            holding.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await holding.wait()
    try:
        with pytest.raises(OperationalError) as raised:
            async with engine.begin() as connection:
                await connection.execute(insert(ITEMS).values(name="late"))  # waits 1 s (the busy timeout)
        assert is_database_busy(raised.value)
    finally:
        release.set()
        await task
    async with engine.connect() as connection:
        assert (await connection.execute(select(ITEMS.c.name))).scalars().all() == ["held"]
