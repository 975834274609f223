"""Storage on SQLite and PostgreSQL: migrations, round trips, time zones, constraints, WAL."""

from __future__ import annotations

import contextlib
from datetime import timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from node.app import open_node
from node.content import Draft
from node.db import queries
from node.db.engine import alembic_config, current_revision, make_engine, upgrade
from node.db.models import Object
from node.db.types import utcnow
from node.services.publish import publish_article
from tests.support import make_settings, postgres_database

BACKENDS = ["sqlite", "postgres"]
TABLES = {"actors", "objects", "activities", "alembic_version"}


def head_revision() -> str:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextlib.asynccontextmanager
async def database_url(backend: str, folder):
    """A fresh, empty database of ``backend`` (PostgreSQL skips when no server answers)."""
    if backend == "postgres":
        async with postgres_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{folder / 'fresh.db'}"


@pytest.fixture(params=BACKENDS)
async def engine(request, tmp_path):
    """An engine on a fresh, unmigrated database of each backend."""
    async with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def opened(request, tmp_path):
    """A node opened (migrated, site actors created) on a fresh database of each backend."""
    async with database_url(request.param, tmp_path) as url:
        node = await open_node(make_settings(tmp_path, database_url=url))
        try:
            yield node
        finally:
            await node.close()


async def publish(node, title: str, body: str, *, slug: str = "post", tags=None, language=None):
    """Publish (or edit) ``slug`` as the default author; return the stored row."""
    draft = Draft(title=title, slug=slug, body=body, tags=tags or [], language=language)
    async with node.sessions.begin() as session:
        editor = await queries.get_local_actor(session, node.settings.default_author)
        return (await publish_article(session, node.settings, draft, editor)).article


async def read_back(node, slug: str = "post") -> Object:
    """The article ``slug`` read in a new session."""
    async with node.sessions() as session:
        return await queries.get_article_by_slug(session, slug)


# --- migrations ----------------------------------------------------------------------

async def test_upgrade_brings_a_fresh_database_to_head(engine):
    """A database that was never migrated reaches the newest revision."""
    # Given a fresh database
    assert await current_revision(engine) is None
    # When the migrations run
    await upgrade(engine)
    # Then it is at head
    assert await current_revision(engine) == head_revision()


async def test_upgrade_again_is_a_no_op(engine):
    """Running the migrations on an up-to-date database changes nothing."""
    # Given a migrated database
    await upgrade(engine)
    async with engine.connect() as connection:
        before = await connection.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))
    # When the migrations run again
    await upgrade(engine)
    # Then the revision and the tables are the same
    async with engine.connect() as connection:
        after = await connection.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))
    assert await current_revision(engine) == head_revision()
    assert after == before


async def test_upgrade_creates_every_table(engine):
    """After the migrations, every table of the model exists with its unique ap_id."""
    # Given a fresh database
    # When it is migrated
    await upgrade(engine)
    # Then the tables exist, each with ap_id unique
    def describe(sync):
        inspector = inspect(sync)
        names = set(inspector.get_table_names())
        uniques = {
            table: [c["column_names"] for c in inspector.get_unique_constraints(table)]
            for table in ("actors", "objects", "activities")
        }
        return names, uniques

    async with engine.connect() as connection:
        names, uniques = await connection.run_sync(describe)
    assert TABLES <= names
    assert all(["ap_id"] in found for found in uniques.values()), uniques


# --- round trips ---------------------------------------------------------------------

async def test_open_node_creates_the_site_actors(opened):
    """open_node leaves a migrated database holding the instance actor, the Group and the first author."""
    # Given a node opened on a fresh database
    # When its local actors are listed
    async with opened.sessions() as session:
        actors = await queries.list_local_actors(session)
    # Then the three site actors are there
    assert sorted((a.ap_type, a.username) for a in actors) == [
        ("Application", "instance.actor"), ("Group", "forum"), ("Person", "editor"),
    ]


async def test_published_article_reads_back(opened):
    """An article written through publish_article reads back field for field."""
    # Given a published article
    await publish(opened, "Stored", "Some *text*.", tags=["one", "two"], language="en")
    # When it is read in a new session
    article = await read_back(opened)
    # Then every field came back
    assert (article.name, article.source, article.tags, article.language) == ("Stored", "Some *text*.", ["one", "two"], "en")
    assert article.content == "<p>Some <em>text</em>.</p>\n"
    assert article.ap_id == opened.urls.article("post")
    assert article.actor.username == "editor"


async def test_edited_article_reads_back_the_new_version(opened):
    """Publishing the same slug again replaces title and text in place and sets ``updated``."""
    # Given a published article
    first = await publish(opened, "First", "One.")
    # When it is published again with new text
    await publish(opened, "Second", "Two.")
    # Then the same row holds the new version
    article = await read_back(opened)
    assert (article.id, article.name, article.source) == (first.id, "Second", "Two.")
    assert article.updated is not None and article.updated > article.published


async def test_unicode_round_trips(opened):
    """Titles, text and tags in any script come back byte for byte."""
    # Given text in several scripts, with emoji and combining marks
    title = "Ünïcödé — 日本語 · العربية · 🎉"
    body = "Grüße, 世界! Emoji 👩‍💻 and e\u0301 (combining) and RTL שלום."
    # When it is published and read back
    await publish(opened, title, body, tags=["café", "日本"])
    article = await read_back(opened)
    # Then nothing was altered
    assert (article.name, article.source, article.tags) == (title, body, ["café", "日本"])


async def test_long_article_round_trips(opened):
    """A 10 kB article is stored and read back whole."""
    # Given a body of more than 10 000 characters
    body = "\n\n".join(f"Paragraph {n}: " + "lorem ipsum " * 20 for n in range(50))
    assert len(body) > 10_000
    # When it is published and read back
    await publish(opened, "Long", body)
    article = await read_back(opened)
    # Then the source and its rendering are complete
    assert article.source == body
    assert article.content.count("<p>") == 50


async def test_datetimes_come_back_utc_aware(opened):
    """Datetimes read from the database are timezone-aware UTC on both backends."""
    # Given a published and edited article
    await publish(opened, "Dated", "Text.")
    await publish(opened, "Dated", "Text again.")
    # When it and its author are read back
    article = await read_back(opened)
    moments = [article.published, article.updated, article.created_at, article.actor.created_at]
    # Then every moment is aware and in UTC
    assert all(m.tzinfo is not None and m.utcoffset().total_seconds() == 0 for m in moments)
    assert all(m.astimezone(timezone.utc) == m for m in moments)


async def test_duplicate_ap_id_is_refused(opened):
    """The database refuses a second object with an existing ap_id."""
    # Given a published article
    article = await publish(opened, "Unique", "Text.")
    # When another row claims its ap_id
    with pytest.raises(IntegrityError):
        async with opened.sessions.begin() as session:
            session.add(Object(
                ap_id=article.ap_id, ap_type="Note", kind="comment", actor_id=article.actor_id,
                published=article.published, visibility="public",
            ))
    # Then the original is still the only one
    async with opened.sessions() as session:
        assert await queries.count_articles(session) == 1


async def test_sqlite_uses_wal(tmp_path):
    """SQLite databases run in write-ahead-log mode, so page views read while the inbox writes."""
    # Given a node opened on SQLite
    node = await open_node(make_settings(tmp_path))
    try:
        # When the journal mode is asked
        async with node.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    finally:
        await node.close()
    # Then it is WAL
    assert mode == "wal"


async def test_sqlite_enforces_foreign_keys(tmp_path):
    """SQLite checks foreign keys (it does not by default): an object needs an existing actor."""
    # Given a node opened on SQLite
    node = await open_node(make_settings(tmp_path))
    try:
        # When an object names an actor that does not exist
        # Then the insert is refused
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            async with node.sessions.begin() as session:
                session.add(Object(ap_id="https://x.test/o", ap_type="Note", kind="comment", actor_id=999_999,
                                   published=utcnow(), visibility="public"))
    finally:
        await node.close()


async def test_a_failing_host_recorded_by_two_workers_keeps_one_row(opened):
    """Two workers recording the same new host's failure: the second insert is a no-op, not a conflict."""
    from datetime import datetime, timezone

    from node.db.models import Host
    from node.federation.delivery import _track_hosts

    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    for _ in ("one worker", "another worker"):
        async with opened.sessions.begin() as session:
            await _track_hosts(session, set(), {"down.example"}, now)
    async with opened.sessions() as session:
        hosts = (await session.scalars(select(Host).where(Host.domain == "down.example"))).all()
    assert [(h.failure_days, h.last_failure_at) for h in hosts] == [(["20261124"], now)]
