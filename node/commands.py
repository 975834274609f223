"""The subcommands of ``fednode`` (registered into ``cli.COMMANDS``)."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from node.app import create_app, freeze_startup_heap, open_node, opened_node
from node.cli import command, write_config_file
from node.config import DEFAULT_CONFIG_FILE, ENV_PREFIX, Settings, problems
from node.content import ContentError, parse_post
from node.db import queries
from node.db.engine import current_revision, make_engine, upgrade
from node.errors import NodeError
from node.listener import announcement, bind_listener
from node.services.demo import seed_demo
from node.services import following
from node.services.publish import delete_article, publish_article
from node.services.setup import add_author
from node.web import server

CONFIG_ENV_VAR = ENV_PREFIX + "CONFIG"


@command("serve")
def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the web server until interrupted."""
    if args.listen_fd is not None:  # one of the web processes of `serve --workers N`
        listener = socket.socket(fileno=args.listen_fd)
        server.serve(create_app(settings), settings, lambda: None, sock=listener)
        return 0
    workers = args.workers
    if workers < 1:
        raise NodeError("--workers must be at least 1")
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        raise NodeError(
            f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time, so more web "
            "processes would only queue for its lock. Run one process, or move the node with "
            "`fednode db copy --to postgresql://...` (docs/scaling.md)")
    if getattr(args, "demo", False):
        refuse_demo_on_a_public_node(args, settings)
    # Bind before anything else: a busy port is reported (exit 2) before any "ready" line or seeding.
    listener = bind_listener(settings)
    try:
        if getattr(args, "demo", False):
            demo_seed(settings)
        if workers > 1:
            migrate_once(settings)  # before the children start, so they do not race to migrate
        else:
            app = create_app(settings)
    except BaseException:
        listener.close()
        raise

    def announce() -> None:
        lines = announcement(settings)
        if workers > 1:
            lines[0] += f" [{workers} web processes]"
        print("\n".join(lines), flush=True)

    if workers > 1:
        from node.supervisor import WebProcesses

        # The children seed nothing: the demo (if any) is in the database already.
        argv = [arg for arg in args.argv if arg not in ("--demo", "--force")]
        if args.command == "demo":
            argv[argv.index("demo")] = "serve"
        return WebProcesses(listener, workers, argv).run(announce)
    # Not web.run_app: the server holds every connection to the idle, header and
    # connection limits of the settings (node.web.server).
    server.serve(app, settings, announce, sock=listener)
    return 0


def migrate_once(settings: Settings) -> None:
    """Bring the database to the newest schema (the web processes then find it current)."""
    import asyncio

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def refuse_demo_on_a_public_node(args: argparse.Namespace, settings: Settings) -> None:
    """The demo's made-up authors and article would be delivered to a real node's followers."""
    if settings.is_public and not getattr(args, "force", False):
        raise NodeError(
            f"refusing to seed the demo discussion on {settings.base}: this node has a public base_url, and "
            "its four made-up authors and sample article would be published (and delivered to its followers). "
            "Run the demo in an empty folder without a config file, or add --force if you really mean it"
        )


def demo_seed(settings: Settings) -> None:
    import asyncio

    async def run() -> None:
        async with opened_node(settings) as node:
            async with node.sessions.begin() as session:
                url, created = await seed_demo(session, settings)
            print(f"demo article {'seeded' if created else 'already there'}: {url}")

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
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            actors = await queries.list_local_actors(session)
        for actor in actors:
            print(f"  {actor.ap_type:<12} @{actor.handle}  {actor.ap_id}")
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
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            if draft.draft:
                return await _kept_as_draft(session, path, draft)
            username = args.author or settings.default_author
            author = await queries.get_local_actor(session, username)
            if author is None or author.ap_type != "Person":
                raise ContentError(f"no local author {username!r}; add one with `fednode authors add {username}`")
            try:
                result = await publish_article(session, settings, draft, author, update=args.update)
            except ContentError as exc:
                raise ContentError(f"{path}: {exc.reason}") from None
    said = "published" if result.created else "updated" if result.changed else "unchanged"
    print(f"{said}: {result.article.url}")
    return 0


async def _kept_as_draft(session, path: Path, draft) -> int:
    """``draft: true``: nothing is stored or delivered; say so, and what happens to an earlier version."""
    print(f"draft, not published: {path} (remove 'draft: true' to publish it)")
    existing = await queries.get_article_by_slug(session, draft.slug)
    if existing is not None and existing.deleted_at is None and draft.slug_given:
        print(f"note: {existing.url} was published before and stays as it is; "
              f"`fednode delete {draft.slug}` takes it down")
    return 0


@command("articles")
async def articles(args: argparse.Namespace, settings: Settings) -> int:
    """List published articles, newest first."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            rows = await queries.list_articles(session, limit=10_000)
    if not rows:
        print("no articles yet")
    for article in rows:
        edited = " (edited)" if article.updated else ""
        print(f"{article.published:%Y-%m-%d}  {article.slug:<40} {article.name}{edited}  by @{article.actor.username}")
    return 0


@command("authors add")
async def authors_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a local author with its own key pair."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            actor, created = await add_author(session, settings, args.name, args.display_name)
    print(f"{'added' if created else 'already exists'}: @{actor.handle} {actor.ap_id}")
    return 0


@command("authors list")
async def authors_list(args: argparse.Namespace, settings: Settings) -> int:
    """List local authors."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            people = await queries.list_local_actors(session, "Person")
    for actor in people:
        print(f"@{actor.handle:<40} {actor.name}")
    return 0


@command("backup")
def backup(args: argparse.Namespace, settings: Settings) -> int:
    """Write one archive holding a consistent copy of the database, the keys and the config file."""
    from node.services.backup import make_backup

    output = args.output or Path(f"fednode-backup-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.tar.gz")
    manifest = make_backup(settings, output)
    held = [f"database at revision {manifest.revision}" if manifest.database else None,
            f"{len(manifest.keys)} keys", f"config {settings.config_file}" if manifest.config else None]
    print(f"backup written: {output} ({', '.join(h for h in held if h)}); mode 0600: it holds the private keys")
    if manifest.database is None:
        print("note: the PostgreSQL database is not in the archive; back it up with `pg_dump -Fc` (docs/operations.md)")
    if manifest.config is None:
        print("note: this node has no config file (a development node): the archive holds its database and keys")
    return 0


@command("restore")
def restore(args: argparse.Namespace, settings: Settings) -> int:
    """Put a backup back: the config file first (its paths apply), then the database and the keys."""
    import tempfile

    from node.cli import settings_from_args
    from node.services.backup import read_backup, restore_config, restore_data

    archive = read_backup(args.archive)
    config_path = Path(getattr(args, "config", None) or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_FILE)
    target = settings
    if archive.manifest.config:
        # The archived config's relative paths mean its folder: read it as if it were in place.
        config_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config_path.parent, suffix=".toml") as staged:
            staged.write(archive.files["fednode.toml"])
            staged.flush()
            target = settings_from_args(argparse.Namespace(**{**vars(args), "config": staged.name}))
        found = problems(target)
        if found:
            raise ContentError("the archived config file has problems: " + "; ".join(found))
    restore_data(archive, target, force=args.force, check_only=True)  # every refusal before any write
    wrote_config = restore_config(archive, config_path, force=args.force)
    restored = restore_data(archive, target, force=args.force)
    if wrote_config:
        print(f"config: {config_path}")
    if restored.database:
        print(f"database: {restored.database} (revision {archive.manifest.revision}; newer versions migrate it on start)")
    print(f"keys: {len(restored.keys)} restored, {len(restored.kept_keys)} already there, in {Path(target.keys_dir)}")
    if archive.manifest.database is None:
        print("note: the archive holds no database (PostgreSQL): restore it with `pg_restore` (docs/operations.md)")
    if archive.manifest.base_url != target.base:
        print(f"note: the backup was of {archive.manifest.base_url}, and this node's public URL is {target.base}: "
              "set base_url to the backup's (ids are stored absolute)")
    print(f"restored from {args.archive}; start the node with `fednode serve`")
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


@command("db copy")
async def db_copy(args: argparse.Namespace, settings: Settings) -> int:
    """Copy every row into another database (migrated first, must be empty), then check the copy."""
    from node.db.copy import CopyError, copy_database, normalize_url

    target_url = normalize_url(args.copy_to)
    if target_url == normalize_url(settings.database_url):
        raise CopyError("the target is the node's own database")
    source, target = make_engine(settings.database_url), make_engine(target_url)
    try:
        await upgrade(source)  # both at the newest schema, so every column has its place
        await upgrade(target)
        reports = await copy_database(source, target)
    finally:
        await source.dispose()
        await target.dispose()
    shown = make_url(target_url).render_as_string(hide_password=True)
    for report in reports:
        state = "ok" if report.ok else "MISMATCH"
        print(f"  {report.name:<16} {report.copied:>9} rows  (source {report.source_count}, "
              f"copy {report.target_count}; {report.sampled} sampled)  {state}")
        for problem in report.mismatches[:5]:
            print(f"      {problem}")
    if not all(report.ok for report in reports):
        print(f"the copy in {shown} does not match the source: do not switch to it", file=sys.stderr)
        return 1
    print(f"copied {sum(r.copied for r in reports)} rows into {shown}; every count matches and every sampled row "
          f"is identical. Point database_url at it (postgresql+asyncpg://...) and start the node.")
    return 0


@command("delete")
async def delete(args: argparse.Namespace, settings: Settings) -> int:
    """Delete an article: 410 from now on, and a Delete queued for its followers."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            if not args.yes:
                article = await queries.get_article_by_slug(session, args.slug)
                if article is not None and article.is_local and article.deleted_at is None and not confirmed(
                    f"Delete {article.name!r} ({article.url})? Its URL will answer 410 Gone and followers get a "
                    "Delete; this cannot be undone. [y/N] "
                ):
                    print("not deleted (answer y, or pass --yes to delete without asking)", file=sys.stderr)
                    return 1
            result = await delete_article(session, settings, args.slug)
    print(f"deleted: {result.article.ap_id} (Delete queued for {result.deliveries} inbox(es))")
    return 0


def confirmed(question: str) -> bool:
    """Ask on the terminal; only "y" or "yes" is a yes (no input, as from a script, is a no)."""
    try:
        answer = input(question)
    except EOFError:
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


@command("follow")
async def follow(args: argparse.Namespace, settings: Settings) -> int:
    """Make the site follow a remote actor; the worker sends the Follow."""
    async with opened_node(settings) as node:
        row = await following.follow(node, args.target)
        print(f"follow {row.state}: @{row.followed.handle} {row.followed.ap_id}")
    return 0


@command("unfollow")
async def unfollow(args: argparse.Namespace, settings: Settings) -> int:
    """Stop following; the worker sends the Undo."""
    async with opened_node(settings) as node:
        remote = await following.unfollow(node, args.target)
    print(f"unfollowed: @{remote.handle} {remote.ap_id}")
    return 0


@command("following")
async def following_list(args: argparse.Namespace, settings: Settings) -> int:
    """List whom the site follows."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            rows = await following.list_following(session, await following.site_actor(session, settings))
    if not rows:
        print("the site follows nobody yet; try `fednode follow @forum@other.example`")
    for row in rows:
        print(f"{row.state:<9} @{row.followed.handle:<40} {row.followed.ap_id}")
    return 0


async def _print_followers(settings: Settings, state: str | None) -> int:
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            local = await queries.list_local_actors(session)
            rows = await following.list_followers(session, [a.id for a in local if not a.ap_type == "Application"], state)
    if not rows:
        print("no follow requests waiting" if state == "pending" else "no followers yet")
    for row in rows:
        print(f"{row.id:>6}  {row.state:<9} @{row.follower.handle:<40} follows @{row.followed.username}")
    return 0


@command("followers")
async def followers(args: argparse.Namespace, settings: Settings) -> int:
    """List the followers of the site and its authors."""
    return await _print_followers(settings, None)


@command("followers pending")
async def followers_pending(args: argparse.Namespace, settings: Settings) -> int:
    """List follow requests waiting for approval (manual_approval)."""
    return await _print_followers(settings, "pending")


async def _answer(settings: Settings, follow_id: int, accept: bool) -> int:
    async with opened_node(settings) as node:
        row = await following.answer_follower(node, follow_id, accept)
    print(f"{'approved' if accept else 'rejected'}: @{row.follower.handle} → @{row.followed.username}")
    return 0


@command("followers approve")
async def followers_approve(args: argparse.Namespace, settings: Settings) -> int:
    """Accept a pending follower."""
    return await _answer(settings, args.id, True)


@command("followers reject")
async def followers_reject(args: argparse.Namespace, settings: Settings) -> int:
    """Refuse a pending follower."""
    return await _answer(settings, args.id, False)


@command("deliveries")
async def deliveries(args: argparse.Namespace, settings: Settings) -> int:
    """Show the delivery ledger, newest first."""
    state = "pending" if args.pending else "failed" if args.failed else None
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            object_id = None
            if args.article:
                article = await queries.get_article_by_slug(session, args.article)
                if article is None:
                    raise ContentError(f"no article with slug {args.article!r}")
                object_id = article.ap_id
            rows = await queries.list_deliveries(session, status=state, object_ap_id=object_id, limit=args.limit)
            counts = await queries.count_deliveries_by_status(session)
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no deliveries yet")
    for row in rows:
        kind = json.loads(row.body).get("type", "?")
        when = (f"next {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC" if row.status == "pending"
                else f"at {row.finished_at:%Y-%m-%d %H:%M:%S} UTC")
        print(f"{row.id:>7} {row.status:<9} {kind:<7} attempts {row.attempts:<2} {when}  {row.inbox}")
        print(f"          {row.activity_ap_id}" + (f"\n          last error: {row.last_error}" if row.last_error else ""))
    return 0


@command("deliveries retry")
async def deliveries_retry(args: argparse.Namespace, settings: Settings) -> int:
    """Make failed and waiting deliveries due now (unavailable hosts included)."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            count = await queries.retry_deliveries(session, args.ids or None)
    print(f"{count} deliveries queued to be sent again")
    return 0


@command("worker")
def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver queued activities and apply received ones until interrupted."""
    import asyncio
    import signal

    async def run() -> None:
        node = await open_node(settings)
        await node.start_background(deliver=True)
        freeze_startup_heap()
        print("fednode worker running; press Ctrl+C to stop", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await node.close()

    asyncio.run(run())
    return 0


# --- fednode thread ----------------------------------------------------------------------------

THREAD_EXCERPT = 60


_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|ul|ol|blockquote|pre|h[1-6]|tr|td|th|table)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")


def plain_excerpt(html: str | None, limit: int = THREAD_EXCERPT) -> str:
    """The first ``limit`` characters of a post's text: tags dropped, entities decoded, spaces folded.

    Block tags separate words; inline tags do not, so ``@<span>alice</span>`` (how Mastodon
    marks up a mention) reads ``@alice`` as on the page, not ``@ alice``.
    """
    import html as htmllib

    text = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", html or ""))
    text = " ".join(htmllib.unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def comment_excerpt(comment) -> str:
    """A comment's text as its page shows it: a remote reply's leading @-mentions folded away."""
    from node.web.render import fold_leading_mentions

    html = comment.content if comment.is_local else fold_leading_mentions(comment.content)
    return plain_excerpt(html)


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "never"


def thread_lines(root, rows, pending, state) -> list[str]:
    from node.db.discussion import is_counted

    """The text ``fednode thread`` prints: the article, its comments as a numbered tree
    (``node.threads.flatten`` rows), then the replies still waiting and the crawl schedule."""
    where = "" if root.is_local else " (remote)"
    lines = [root.name or "(untitled)", f"{root.url or root.ap_id}{where}  by @{root.actor.handle}  {_when(root.published)}"]
    if root.deleted_at is not None:
        lines[0] += "  [deleted]"
    # The count the pages show (node.db.discussion.is_counted); hidden and deleted ones are listed but not counted.
    counted = sum(1 for row in rows if is_counted(row.comment))
    extra = len(rows) - counted
    if rows:
        lines.append(f"{counted} comment{'' if counted == 1 else 's'}"
                     + (f" (and {extra} deleted or not public, listed but not counted)" if extra else ""))
    else:
        lines.append("no comments yet")
    for row in rows:
        comment = row.comment
        markers = []
        if comment.moderation != "published":
            markers.append(f"[{comment.moderation}]")  # held, rejected, removed or suspended: not on the page
        if comment.deleted_at is not None:
            markers.append("[deleted]")
        else:
            if comment.updated is not None:
                markers.append("[edited]")
            if comment.visibility == "followers":
                markers.append("[followers-only]")
            elif comment.visibility == "direct":
                markers.append("[direct]")
        if row.orphan:
            markers.append("[parent missing]")
        if row.in_reply_to_number:
            markers.append(f"(re {row.in_reply_to_number})")
        text = "" if comment.deleted_at is not None else comment_excerpt(comment)
        parts = [row.number, f"@{row.author.handle}", _when(comment.published), text, *markers]
        lines.append("  " * (row.indent + 1) + "  ".join(p for p in parts if p))
    lines.append("still being fetched:")
    if pending:
        for reply in pending:
            lines.append(f"  {reply.ap_id} by {reply.actor_ap_id} waits for its parent {reply.in_reply_to}")
    else:
        lines.append("  no replies waiting for their parent")
    if state is None:
        lines.append("  crawl: not scheduled (no remote comment yet)")
    else:
        if state.next_crawl_at is None:
            lines.append(f"  crawl: stopped (no new comment since {_when(state.last_activity_at)})")
        else:
            lines.append(f"  crawl: next at {_when(state.next_crawl_at)}")
        found = "" if state.last_found is None else f", found {state.last_found}"
        lines.append(f"  last crawl: {_when(state.last_crawled_at)}{found}")
        if state.last_error:
            lines.append(f"  last error: {state.last_error}")
    return lines


@command("thread")
async def thread(args: argparse.Namespace, settings: Settings) -> int:
    """Show an article's discussion as a tree, with what is still being fetched."""
    from node.db import crawl as crawl_db
    from node.threads import flatten

    wanted: str = args.article
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            if wanted.startswith(("https://", "http://")):
                root = await queries.get_object(session, wanted) or await queries.get_article_by_url(session, wanted)
            else:
                root = await queries.get_article_by_slug(session, wanted)
            if root is None or root.kind != "article":
                raise ContentError(f"no article {wanted!r} (a local slug, or the URL of a remote article)")
            comments = list(await queries.list_thread(session, root.id))
            pending = await queries.list_pending_for_thread(session, root, comments)
            state = await crawl_db.crawl_state(session, root.id)
    for line in thread_lines(root, flatten(comments, root.ap_id), pending, state):
        print(line)
    return 0


@command("discuss")
async def discuss(args: argparse.Namespace, settings: Settings) -> int:
    """Open the discussion of a web page as the site Group, or show the one it already has."""
    from node.discussions.service import open_discussion, refresh_source

    from node.db import discussions as db

    async with opened_node(settings) as node:
        opened = await open_discussion(node, args.url)
        if not opened.created:
            await refresh_source(node, opened.document)  # a fediverse source may have closed its comments since
        async with node.sessions() as session:
            document = await db.get_document(session, opened.document.id)
            thread_id = document.thread.ap_id if document.thread is not None else ""
    verb = "opened" if opened.created else "already discussed"
    print(f"{verb}: {node.urls.discussion(document.id)}")
    print(f"  page: {document.canonical_url}")
    if document.title:
        print(f"  title: {document.title}")
    kind = {"link": "a link thread of this site", "fediverse": f"the fediverse post {thread_id}",
            "affiliate": f"an affiliated forum's thread {thread_id}"}
    print(f"  thread: {kind.get(document.kind, document.kind)}")
    if opened.deliveries:
        print(f"  announced to {opened.deliveries} inbox(es)")
    if document.closed_reason:
        print(f"  comments are closed at the source ({document.closed_reason}); the discussion continues here")
    return 0


import node.moderation.commands  # noqa: E402,F401  (registers `fednode mod …` too)
import node.members.commands  # noqa: E402,F401  (registers `fednode admin …` too)
import node.api.commands  # noqa: E402,F401  (registers `fednode webhook …` too)
