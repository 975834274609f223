"""``fednode db copy --to postgresql://…``: a SQLite node moves to PostgreSQL with nothing lost.

The source is a real node's database with articles, a remote thread whose rows point at
each other in both directions, follows, reactions and queued deliveries.  It is copied to
PostgreSQL by the real command, copied back to a fresh SQLite file the same way, and the
two SQLite databases must hold exactly the same rows; the PostgreSQL copy must run a
node (new rows get new ids, queued deliveries are still queued).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from node.app import open_node
from node.content import Draft
from node.db import queries
from node.db.copy import tables
from node.db.engine import make_engine
from node.db.models import Actor, Follow, Object, Reaction
from node.services.publish import publish_article
from tests.support import make_settings, postgres_database
from tests.cli_support import clean_env

pytestmark = pytest.mark.postgres


async def fednode(folder: Path, *args: str) -> tuple[int, str, str]:
    """Run ``python -m node ARGS`` in ``folder``; (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", *args, cwd=folder, env=clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def build_source(settings) -> None:
    """Two articles, a remote reader following the site, a thread of three, a like, deliveries queued."""
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            site = await queries.get_local_actor(session, settings.site_username)
            author = await queries.get_local_actor(session, settings.default_author)
            reader = Actor(ap_id="https://social.example/users/ana", ap_type="Person", username="ana",
                           domain="social.example", inbox="https://social.example/users/ana/inbox",
                           shared_inbox="https://social.example/inbox", name="Ana",
                           raw={"type": "Person", "name": "Ana ✨", "tag": [{"type": "Emoji"}]})
            session.add(reader)
            await session.flush()
            session.add(Follow(follower_id=reader.id, followed_id=site.id, state="accepted",
                               ap_id="https://social.example/follows/1"))
            await session.flush()
            first = await publish_article(session, settings, Draft("First", "first", "Hello **world**."), author)
            await publish_article(session, settings, Draft("Second", "second", "Más texto — ünïcode."), author)
            article = await session.scalar(select(Object).where(Object.slug == "first"))
            # A reply stored before its parent (fetched later): the child's id is smaller than
            # the parent's, so a copy in id order must not trip over the parent link.
            child = Object(ap_id="https://social.example/notes/2", ap_type="Note", kind="comment",
                           actor_id=reader.id, content="<p>child</p>", root_id=article.id, raw={"n": 2})
            session.add(child)
            await session.flush()
            parent = Object(ap_id="https://social.example/notes/1", ap_type="Note", kind="comment",
                            actor_id=reader.id, content="<p>parent</p>", root_id=article.id,
                            parent_id=article.id, in_reply_to=article.ap_id, raw={"n": 1})
            session.add(parent)
            await session.flush()
            child.parent_id, child.in_reply_to = parent.id, parent.ap_id
            session.add(Reaction(ap_id="https://social.example/likes/1", kind="like", actor_id=reader.id,
                                 object_id=article.id))
        assert first.deliveries >= 1
    finally:
        await node.close()


async def all_rows(database_url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    engine = make_engine(database_url)
    try:
        found = {}
        async with engine.connect() as connection:
            for table in tables():
                order = [column for column in table.primary_key.columns]
                found[table.name] = [tuple(row) for row in (await connection.execute(
                    select(table).order_by(*order))).all()]
        return found
    finally:
        await engine.dispose()


async def test_db_copy_round_trips_a_node_through_postgresql(tmp_path):
    """SQLite → PostgreSQL → SQLite gives back every row unchanged, and the command says each table checked out."""
    source = make_settings(tmp_path / "a")
    back_url = f"sqlite+aiosqlite:///{tmp_path / 'b' / 'fednode.db'}"
    await build_source(source)
    async with postgres_database() as pg_url:
        status, out, err = await fednode(tmp_path, "db", "copy", "--database-url", source.database_url,
                                         "--to", pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        assert status == 0, err
        assert "every count matches" in out
        assert "MISMATCH" not in out
        status, out, err = await fednode(tmp_path, "db", "copy", "--database-url", pg_url, "--to", back_url)
        assert status == 0, err
        original, returned = await all_rows(source.database_url), await all_rows(back_url)
        assert original.keys() == returned.keys()
        for name in original:
            assert returned[name] == original[name], name
        assert len(original["objects"]) == 4 and len(original["deliveries"]) >= 2

        # And a node runs on the PostgreSQL copy: queued deliveries are there, new rows get new ids
        moved = source.replace(database_url=pg_url)
        node = await open_node(moved)
        try:
            async with node.sessions.begin() as session:
                counts = await queries.count_deliveries_by_status(session)
                author = await queries.get_local_actor(session, moved.default_author)
                third = await publish_article(session, moved, Draft("Third", "third", "After the move."), author)
            assert counts.get("pending", 0) == len(original["deliveries"])
            assert third.deliveries == 1
        finally:
            await node.close()


async def test_db_copy_refuses_a_target_that_holds_rows(tmp_path):
    """Copying into a database that already has a node's rows is refused with a reason, and changes nothing."""
    source = make_settings(tmp_path / "a")
    await build_source(source)
    async with postgres_database() as pg_url:
        status, _, _ = await fednode(tmp_path, "db", "copy", "--database-url", source.database_url, "--to", pg_url)
        assert status == 0
        before = await all_rows(pg_url)
        status, out, err = await fednode(tmp_path, "db", "copy", "--database-url", source.database_url, "--to", pg_url)
        assert status == 2
        assert "already has rows" in err and "empty database" in err
        assert await all_rows(pg_url) == before
