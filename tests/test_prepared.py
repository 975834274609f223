"""``node.db.prepared``: statements compiled once whose rows go to the driver as SQLAlchemy would send them.

Each test runs on SQLite and on PostgreSQL (skipped when it is not reachable): the rows written
through a prepared statement read back exactly as the same rows written through SQLAlchemy's own
executemany (times, JSON documents, defaults, ``onupdate`` columns).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update

from node.db.engine import make_engine, make_sessionmaker, upgrade
from node.db.models import Actor, Object
from node.db.prepared import Prepared
from tests.support import postgres_database

OBJECTS = Object.__table__


@asynccontextmanager
async def database(kind: str, tmp_path):
    """Sessions on a fresh, migrated database of ``kind`` with one remote actor (row id 1)."""
    if kind == "sqlite":
        async with _opened(f"sqlite+aiosqlite:///{tmp_path / 'prepared.db'}") as sessions:
            yield sessions
    else:
        async with postgres_database() as url, _opened(url) as sessions:
            yield sessions


@asynccontextmanager
async def _opened(url: str):
    engine = make_engine(url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            await session.execute(insert(Actor.__table__).values(
                ap_id="https://remote.example/users/a", ap_type="Person", username="a", domain="remote.example",
                inbox="https://remote.example/users/a/inbox", is_local=False))
        yield sessions
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request):
    return request.param


def comment(number: int, published: datetime) -> dict:
    ap_id = f"https://remote.example/notes/{number}"
    return dict(ap_id=ap_id, ap_type="Note", kind="comment", actor_id=1, content=f"<p>{number}</p>",
                visibility="public", published=published, moderation="held",
                raw={"id": ap_id, "type": "Note", "content": f"<p>{number}</p>", "tag": [{"name": "é"}]})


COLUMNS = ("ap_id", "ap_type", "kind", "actor_id", "content", "visibility", "published", "moderation", "raw",
           "is_local", "replies_count", "likes_count", "locked", "created_at", "changed_at", "updated")


async def read(sessions, ap_ids: list[str]) -> dict[str, dict]:
    async with sessions() as session:
        rows = (await session.execute(select(*(OBJECTS.c[name] for name in COLUMNS))
                                      .where(OBJECTS.c.ap_id.in_(ap_ids)))).mappings().all()
    return {row["ap_id"]: dict(row) for row in rows}


async def test_an_insert_reads_back_as_sqlalchemys_own_with_the_defaults_filled(kind, tmp_path):
    published = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=timezone.utc)
    async with database(kind, tmp_path) as sessions:
        before = datetime.now(timezone.utc)
        async with sessions.begin() as session:
            await session.execute(insert(OBJECTS), [comment(n, published) for n in (1, 2)])
            await Prepared.insert(OBJECTS).executemany(session, [comment(n, published) for n in (3, 4)])
        after = datetime.now(timezone.utc)
        rows = await read(sessions, [f"https://remote.example/notes/{n}" for n in (1, 2, 3, 4)])
    assert len(rows) == 4
    theirs, ours = rows["https://remote.example/notes/1"], rows["https://remote.example/notes/3"]
    for name in ("ap_type", "kind", "actor_id", "visibility", "published", "moderation", "is_local",
                 "replies_count", "likes_count", "locked", "updated"):
        assert ours[name] == theirs[name], name
    assert ours["published"] == published
    assert ours["raw"] == comment(3, published)["raw"]
    assert ours["content"] == "<p>3</p>"
    # Column defaults computed by the call: a callable's once for all its rows.
    assert before <= ours["created_at"] <= after and before <= ours["changed_at"] <= after
    assert rows["https://remote.example/notes/4"]["created_at"] == ours["created_at"]
    assert rows["https://remote.example/notes/4"]["changed_at"] == ours["changed_at"]


async def test_an_update_with_shared_values_sets_the_onupdate_columns_too(kind, tmp_path):
    published = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    add = Prepared(lambda dialect: update(OBJECTS).where(OBJECTS.c.id == bindparam("row"))
                   .values(replies_count=OBJECTS.c.replies_count + bindparam("added"),
                           updated=bindparam("when")))
    async with database(kind, tmp_path) as sessions:
        async with sessions.begin() as session:
            await Prepared.insert(OBJECTS).executemany(session, [comment(n, published) for n in (1, 2, 3)])
        async with sessions() as session:
            ids = dict((await session.execute(select(OBJECTS.c.ap_id, OBJECTS.c.id))).all())
        notes = [f"https://remote.example/notes/{n}" for n in (1, 2, 3)]
        before = await read(sessions, notes)
        when = published + timedelta(hours=1)
        async with sessions.begin() as session:
            await add.executemany(session, [{"row": ids["https://remote.example/notes/1"], "added": 2},
                                            {"row": ids["https://remote.example/notes/2"], "added": 5}], when=when)
            await add.executemany(session, [])  # nothing to do: no statement
        rows = await read(sessions, notes)
    assert [rows[f"https://remote.example/notes/{n}"]["replies_count"] for n in (1, 2, 3)] == [2, 5, 0]
    assert rows["https://remote.example/notes/1"]["updated"] == when
    assert rows["https://remote.example/notes/3"]["updated"] is None
    # changed_at has an onupdate (the discussion page cache's version): the updated rows moved on.
    assert rows[notes[0]]["changed_at"] > before[notes[0]]["changed_at"]
    assert rows[notes[1]]["changed_at"] == rows[notes[0]]["changed_at"]  # one time for the call
    assert rows[notes[2]]["changed_at"] == before[notes[2]]["changed_at"]


async def test_a_parameter_no_row_gives_is_refused_by_name(kind, tmp_path):
    add = Prepared(lambda dialect: update(OBJECTS).where(OBJECTS.c.id == bindparam("row"))
                   .values(replies_count=OBJECTS.c.replies_count + bindparam("added")))
    async with database(kind, tmp_path) as sessions:
        async with sessions.begin() as session:
            with pytest.raises(KeyError, match="added"):
                await add.executemany(session, [{"row": 1}])
