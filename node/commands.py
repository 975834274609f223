"""The subcommands of ``fednode`` (registered into ``cli.COMMANDS``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from aiohttp import web

from node.app import create_app, open_node
from node.cli import command, write_config_file
from node.config import DEFAULT_CONFIG_FILE, ENV_PREFIX, Settings, problems
from node.content import ContentError, parse_post
from node.db import queries
from node.db.engine import current_revision, make_engine, upgrade
from node.services.demo import seed_demo
from node.services.publish import publish_article
from node.services.setup import add_author

CONFIG_ENV_VAR = ENV_PREFIX + "CONFIG"


@command("serve")
def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the web server until interrupted."""
    if getattr(args, "demo", False):
        demo_seed(settings)
    app = create_app(settings)

    def announce(_: str) -> None:
        print(
            f"Fednode listening on http://{settings.listen_host}:{settings.listen_port} "
            f"(public URL {settings.base}); press Ctrl+C to stop",
            flush=True,
        )

    web.run_app(app, host=settings.listen_host, port=settings.listen_port, print=announce, access_log=None)
    return 0


def demo_seed(settings: Settings) -> None:
    import asyncio

    async def run() -> None:
        node = await open_node(settings)
        try:
            async with node.sessions.begin() as session:
                url, created = await seed_demo(session, settings)
            print(f"demo article {'seeded' if created else 'already there'}: {url}")
        finally:
            await node.engine.dispose()

    asyncio.run(run())


@command("demo")
def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Seed the sample discussion, then serve."""
    args.demo = True
    return serve(args, settings)


@command("init")
async def init(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare a node; running it again changes nothing."""
    config_path = Path(getattr(args, "config", None) or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_FILE)
    if write_config_file(config_path, settings):
        print(f"wrote {config_path}")
    else:
        print(f"kept existing {config_path}")
    node = await open_node(settings)
    try:
        async with node.sessions() as session:
            actors = await queries.list_local_actors(session)
        for actor in actors:
            print(f"  {actor.ap_type:<12} @{actor.handle}  {actor.ap_id}")
    finally:
        await node.engine.dispose()
    print(f"keys in {Path(settings.keys_dir).resolve()}; database {settings.database_url}")
    print("next: `fednode publish post.md`, then `fednode serve` behind your TLS proxy")
    return 0


@command("publish")
async def publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish or edit an article from a Markdown file and print its URL."""
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    draft = parse_post(text, origin=str(path))
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            username = args.author or settings.default_author
            author = await queries.get_local_actor(session, username)
            if author is None or author.ap_type != "Person":
                raise ContentError(f"no local author {username!r}; add one with `fednode authors add {username}`")
            result = await publish_article(session, settings, draft, author)
    finally:
        await node.engine.dispose()
    print(f"{'published' if result.created else 'updated'}: {result.article.url}")
    return 0


@command("articles")
async def articles(args: argparse.Namespace, settings: Settings) -> int:
    """List published articles, newest first."""
    node = await open_node(settings)
    try:
        async with node.sessions() as session:
            rows = await queries.list_articles(session, limit=10_000)
    finally:
        await node.engine.dispose()
    if not rows:
        print("no articles yet")
    for article in rows:
        edited = " (edited)" if article.updated else ""
        print(f"{article.published:%Y-%m-%d}  {article.slug:<40} {article.name}{edited}  by @{article.actor.username}")
    return 0


@command("authors add")
async def authors_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a local author with its own key pair."""
    node = await open_node(settings)
    try:
        async with node.sessions.begin() as session:
            actor, created = await add_author(session, settings, args.name, args.display_name)
    finally:
        await node.engine.dispose()
    print(f"{'added' if created else 'already exists'}: @{actor.handle} {actor.ap_id}")
    return 0


@command("authors list")
async def authors_list(args: argparse.Namespace, settings: Settings) -> int:
    """List local authors."""
    node = await open_node(settings)
    try:
        async with node.sessions() as session:
            people = await queries.list_local_actors(session, "Person")
    finally:
        await node.engine.dispose()
    for actor in people:
        print(f"@{actor.handle:<40} {actor.name}")
    return 0


@command("check-config")
def check_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print each problem with the settings, by name; exit 1 when there is any."""
    found = problems(settings)
    source = settings.config_file or "no config file (defaults, environment and flags)"
    print(f"configuration from {source}")
    if not found:
        print("no problems found")
        return 0
    for problem in found:
        print(f"  {problem}", file=sys.stderr)
    return 1


@command("db upgrade")
async def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        print(f"database at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


@command("db current")
async def db_current(args: argparse.Namespace, settings: Settings) -> int:
    """Print the schema revision of the database."""
    engine = make_engine(settings.database_url)
    try:
        print(await current_revision(engine) or "not migrated")
    finally:
        await engine.dispose()
    return 0
