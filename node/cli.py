"""The ``fednode`` command line: one small function per subcommand.

Every setting is also a flag (``--base-url``...), accepted after any subcommand;
flags beat ``FEDNODE_*`` variables, which beat the config file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Callable

from node import __version__, logs
from node.config import (DEFAULT_CONFIG_FILE, PATH_SETTINGS, SETTINGS, Settings, load, problems,
                         relative_to_config, to_toml)
from node.errors import ConfigError, NodeError

Command = Callable[[argparse.Namespace, Settings], Any]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand handler under ``name`` (e.g. "authors add")."""
    def register(func: Command) -> Command:
        COMMANDS[name] = func
        return func
    return register


SETTINGS_EPILOG = (
    "Every setting is also accepted here as a flag (--listen-port 8081, --base-url URL, ...): "
    "`fednode --help` lists them all, docs/configuration.md explains each, docs/cli.md each command."
)


def _settings_parent(*, listed: bool) -> argparse.ArgumentParser:
    """The options every command accepts: --config and one flag per setting.

    Only ``fednode --help`` lists the ~20 setting flags (``listed``); a command's own help would
    bury its options under them, so there they are accepted but not shown.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"config file (default: $FEDNODE_CONFIG or ./{DEFAULT_CONFIG_FILE})")
    group = parent.add_argument_group("settings (see docs/configuration.md)")
    for setting in SETTINGS:
        kwargs: dict[str, Any] = {"dest": f"setting_{setting.name}", "default": argparse.SUPPRESS,
                                  "help": setting.help if listed else argparse.SUPPRESS}
        if setting.type is bool:
            group.add_argument(setting.flag, action=argparse.BooleanOptionalAction, **kwargs)
        else:
            group.add_argument(setting.flag, metavar=setting.type.__name__.upper(), **kwargs)
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parent = _settings_parent(listed=False)  # for the commands
    parser = argparse.ArgumentParser(prog="fednode", description="A federated discussion forum node.",
                                     usage="fednode [--version] COMMAND [options] [--config PATH] [--<setting> VALUE ...]",
                                     epilog="`fednode COMMAND --help` shows a command's own options; docs/cli.md describes each.",
                                     parents=[_settings_parent(listed=True)])
    parser.add_argument("--version", action="version", version=f"fednode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, prog="fednode")

    serve = sub.add_parser("serve", parents=[parent], help="run the node (web server; migrates the database first)")
    serve.add_argument("--demo", action="store_true", help="seed a sample article with a threaded discussion first")
    force_help = "seed the demo even on a node with a public base_url (its followers would receive it)"
    serve.add_argument("--force", action="store_true", help=force_help)
    demo = sub.add_parser("demo", parents=[parent], help="seed the sample discussion and run the node (same as serve --demo)")
    demo.add_argument("--force", action="store_true", help=force_help)
    for parser_ in (serve, demo):
        parser_.add_argument("--workers", type=int, default=1, metavar="N",
                             help="run N web processes on the one port (PostgreSQL only; default 1)")
        # A child of `serve --workers N` serves on the socket its parent bound (not for people).
        parser_.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    sub.add_parser("init", parents=[parent], help="prepare a node: config file, keys, database, site actor, first author")
    publish = sub.add_parser("publish", parents=[parent], help="publish (or edit) an article from a Markdown file")
    publish.add_argument("file", type=Path,
                         help="Markdown file with front matter (title, slug, tags, language, date, description, draft)")
    publish.add_argument("--author", help="username of the local author (default: the default_author setting)")
    publish.add_argument("--update", action="store_true",
                         help="edit the existing article with this slug (needed when the slug comes from the title)")
    sub.add_parser("articles", parents=[parent], help="list published articles")
    authors = sub.add_parser("authors", parents=[parent], help="manage local authors")
    authors_sub = authors.add_subparsers(dest="authors_command", metavar="ACTION", required=True)
    add = authors_sub.add_parser("add", parents=[parent], help="add a local author")
    add.add_argument("name", help="username: 1-30 characters of a-z, 0-9 and _")
    add.add_argument("--display-name", help="the name shown on pages and profiles")
    authors_sub.add_parser("list", parents=[parent], help="list local authors")
    delete = sub.add_parser("delete", parents=[parent], help="delete an article (its URL answers 410; followers get Delete)")
    delete.add_argument("slug", help="the article's slug (see `fednode articles`)")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    follow = sub.add_parser("follow", parents=[parent], help="make the site follow another site or account")
    follow.add_argument("target", help="@user@host, user@host or an actor URL")
    unfollow = sub.add_parser("unfollow", parents=[parent], help="stop following (sends Undo)")
    unfollow.add_argument("target", help="@user@host or the actor URL, as `fednode following` shows it")
    sub.add_parser("following", parents=[parent], help="list whom the site follows, with each follow's state")
    followers = sub.add_parser("followers", parents=[parent], help="list followers; approve or reject pending ones")
    followers_sub = followers.add_subparsers(dest="followers_command", metavar="ACTION")
    followers_sub.add_parser("pending", parents=[parent], help="list follow requests waiting for approval")
    for action, text in (("approve", "accept a pending follower (sends Accept)"),
                         ("reject", "refuse a pending follower (sends Reject)")):
        answer = followers_sub.add_parser(action, parents=[parent], help=text)
        answer.add_argument("id", type=int, help="the request's number, from `fednode followers pending`")

    deliveries = sub.add_parser("deliveries", parents=[parent], help="show the delivery ledger; retry deliveries")
    state = deliveries.add_mutually_exclusive_group()
    state.add_argument("--pending", action="store_true", help="only deliveries still to be sent")
    state.add_argument("--failed", action="store_true", help="only deliveries given up")
    deliveries.add_argument("--article", metavar="SLUG", help="only deliveries of this article's activities")
    deliveries.add_argument("--limit", type=int, default=50, help="show at most this many (newest first)")
    deliveries_sub = deliveries.add_subparsers(dest="deliveries_command", metavar="ACTION")
    retry = deliveries_sub.add_parser("retry", parents=[parent], help="send failed and waiting deliveries again now")
    retry.add_argument("ids", type=int, nargs="*", help="only these deliveries (default: every failed or waiting one)")
    sub.add_parser("worker", parents=[parent], help="run only the delivery worker (and inbox processing), no web server")

    backup = sub.add_parser("backup", parents=[parent],
                            help="write the database (a consistent copy), the keys and the config file into one archive")
    backup.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="the archive to write (default: fednode-backup-<UTC date and time>.tar.gz here)")
    restore = sub.add_parser("restore", parents=[parent],
                             help="put a backup's config file, database and keys back (the node must be stopped)")
    restore.add_argument("archive", type=Path, help="a file written by `fednode backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace an existing database, config file or different keys")

    sub.add_parser("check-config", parents=[parent], help="check the settings and explain each problem")
    db = sub.add_parser("db", parents=[parent], help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", parents=[parent], help="apply pending migrations")
    db_sub.add_parser("current", parents=[parent], help="print the schema revision")
    copy = db_sub.add_parser("copy", parents=[parent],
                             help="copy the whole database into another, empty one (SQLite to PostgreSQL)")
    copy.add_argument("--to", required=True, metavar="URL", dest="copy_to",
                      help="the target database, e.g. postgresql://fednode@localhost/fednode")

    discuss = sub.add_parser("discuss", parents=[parent],
                             help="open the discussion of a web page (or show the one it has), as the site Group")
    discuss.add_argument("url", help="the page's address; any alias of an already discussed page finds its thread")
    thread = sub.add_parser("thread", parents=[parent],
                            help="show an article's discussion as a tree, with what is still being fetched")
    thread.add_argument("article", metavar="SLUG", help="a local article's slug, or the URL of a remote article")

    from node.moderation.commands import add_parsers as add_moderation_parsers

    add_moderation_parsers(sub, parent)
    from node.members.commands import add_parsers as add_member_parsers

    add_member_parsers(sub, parent)
    from node.api.commands import add_parsers as add_webhook_parsers

    add_webhook_parsers(sub, parent)

    _describe_commands(parser)
    return parser


def _describe_commands(parser: argparse.ArgumentParser, prefix: str = "fednode") -> None:
    """Give every command's own ``--help`` a description (its one-line help) and the settings epilog."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            text = helps.get(name) or ""
            if child.description is None and text:
                child.description = text[0].upper() + text[1:] + "."
            if child.epilog is None:
                child.epilog = SETTINGS_EPILOG
            _describe_commands(child, f"{prefix} {name}")


def settings_from_args(args: argparse.Namespace, environ=None) -> Settings:
    """Settings from the config file, the environment and the flags given.

    ``init`` and ``restore`` may name a config file that does not exist yet: it is the one they write.
    """
    overrides = {
        key[len("setting_"):]: value for key, value in vars(args).items() if key.startswith("setting_")
    }
    return load(
        getattr(args, "config", None), environ=environ, overrides=overrides,
        missing_ok=getattr(args, "command", None) in ("init", "restore"),
    )


def command_name(args: argparse.Namespace) -> str:
    """The registry key of the parsed subcommand ("authors add", "db upgrade"...)."""
    for nested in ("authors_command", "db_command", "followers_command", "deliveries_command", "mod_command",
                   "admin_command", "webhook_command"):
        if getattr(args, nested, None):
            return f"{args.command} {getattr(args, nested)}"
    return args.command


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fednode`` and ``python -m node``; returns the exit status."""
    import node.commands  # noqa: F401  (registers the subcommands)

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `serve --workers` starts children with it
    name = command_name(args)
    try:
        try:
            settings = settings_from_args(args)
        except ConfigError as exc:
            if name != "check-config":
                raise
            # check-config explains bad values too, one per line, and exits 1 like any other problem.
            for problem in exc.reason.split("; "):
                print(f"  {problem}", file=sys.stderr)
            return 1
        logs.configure(settings.log_level, settings.log_format)
        if name not in ("check-config",):
            found = problems(settings)
            if found:
                raise ConfigError("; ".join(found) + " (run `fednode check-config`)")
        result = COMMANDS[name](args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return int(result or 0)
    except NodeError as exc:
        print(f"fednode: {exc.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`fednode thread topic | head`): stop quietly, like other Unix
        # tools, and keep Python from complaining when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe


def write_config_file(path: Path, settings: Settings) -> bool:
    """Write every setting to ``path`` unless it exists; return whether it was written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {s.name: getattr(settings, s.name) for s in SETTINGS}
    for name in PATH_SETTINGS:  # paths in the file are read relative to its folder
        values[name] = relative_to_config(name, values[name], path)
    if settings.is_development:
        # A development node's URL follows its port; the file keeps that until the line is set.
        values["base_url"] = None
    path.write_text(to_toml(values), encoding="utf-8")
    return True
