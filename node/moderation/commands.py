"""``fednode mod …``: the moderators' command line (the web admin will call the same ``actions``).

Each command opens the node, does one action in one transaction and says what
it did; every decision lands in the mod log under the name given with
``--as`` (default: the login name).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from pathlib import Path

from node.app import opened_node
from node.cli import command
from node.config import Settings
from node.db import moderation as db
from node.db.types import utcnow
from node.moderation import actions, blocklist
from node.moderation.policy import RULES

COMMENT_STATES = ("held", "rejected", "removed", "suspended", "published")


def add_parsers(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``fednode mod`` and its actions to the main parser."""
    mod = sub.add_parser("mod", parents=[parent], help="moderation: the queue, removals, bans, domain blocks, reports")
    actions_sub = mod.add_subparsers(dest="mod_command", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        parser = actions_sub.add_parser(name, parents=[parent], help=text)
        parser.add_argument("--as", dest="moderator", default=None,
                            help="the moderator's name in the mod log (default: your login name)")
        return parser

    queue = action("queue", "list held comments (or another state), oldest first")
    queue.add_argument("--state", choices=COMMENT_STATES, default="held")
    queue.add_argument("--limit", type=int, default=100)
    for name, text in (("approve", "show a held comment; the Group announces it; its author becomes trusted"),
                       ("reject", "keep a held comment hidden; its author's server gets Reject"),
                       ("remove", "replace a comment with a 'removed by moderators' placeholder"),
                       ("restore", "show a removed comment again")):
        parser = action(name, text)
        parser.add_argument("comment", help="the comment's number (from `fednode mod queue`) or its URL")
        parser.add_argument("--reason", help="why (kept in the mod log; sent with a removal)")
    report = action("report", "report a remote comment to its server (Flag, signed by the instance actor)")
    report.add_argument("comment", help="the comment's number or URL")
    report.add_argument("--reason", help="what is wrong (sent to the other server's moderators)")
    for name, text in (("lock", "stop new replies to an article's discussion, or directly under a comment"),
                       ("unlock", "take replies again")):
        parser = action(name, text)
        parser.add_argument("thread", help="an article's slug or URL, or a comment's number or URL")
        parser.add_argument("--reason")
    replies = action("replies", "who may reply to an article: open, followers, approval, closed")
    replies.add_argument("article", help="the article's slug or URL")
    replies.add_argument("policy", choices=actions.REPLY_POLICIES)
    replies.add_argument("--close-after-days", type=int, metavar="N",
                         help="close to comments N days after the article was published")
    replies.add_argument("--reason")
    ban = action("ban", "refuse an actor's activities (403), optionally for a time, optionally removing its comments")
    ban.add_argument("actor", help="the actor's id (URL) or @user@host")
    ban.add_argument("--days", type=float, help="lift the ban after this many days (default: never)")
    ban.add_argument("--reason")
    ban.add_argument("--remove-comments", action="store_true", help="also remove every comment of the actor")
    unban = action("unban", "lift a ban")
    unban.add_argument("actor")
    unban.add_argument("--reason")
    action("bans", "list the bans in force")
    block = action("block", "block a domain: silence (its comments held) or suspend (refused, hidden, follows severed)")
    block.add_argument("domain")
    block.add_argument("--severity", choices=actions.SEVERITIES, default="suspend")
    block.add_argument("--reason", help="public comment, as Mastodon's blocklists carry it")
    unblock = action("unblock", "lift a domain block (a suspension's hidden comments are shown again)")
    unblock.add_argument("domain")
    unblock.add_argument("--reason")
    action("blocks", "list domain blocks")
    imp = action("import", "import Mastodon's domain_blocks.csv: preview, then apply all or nothing")
    imp.add_argument("file", type=Path)
    imp.add_argument("--source", help="the list's name (default: the file name); a newer list lifts what it retracted")
    imp.add_argument("--dry-run", action="store_true", help="only show what would change")
    exp = action("export", "write the domain blocks as Mastodon's CSV")
    exp.add_argument("file", nargs="?", type=Path, help="where to write (default: standard output)")
    reports = action("reports", "list reports (Flag) received, open ones by default")
    reports.add_argument("--all", action="store_true", help="resolved ones too")
    resolve = action("resolve", "close a report, saying what was done")
    resolve.add_argument("report", type=int)
    resolve.add_argument("--action", dest="resolution", default="no action", help="what was done (free text)")
    resolve.add_argument("--remove", action="store_true", help="also remove the reported comments we hold")
    resolve.add_argument("--ban", action="store_true", help="also ban the reported actor")
    log = action("log", "show the mod log, newest first")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--target", help="only decisions about this comment, actor or domain")
    action("rules", "list the policy rules in order, with their hit counters and dry-run state")


def _who(args: argparse.Namespace) -> str:
    if args.moderator:
        return args.moderator
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _print_outcome(outcome: actions.Outcome) -> int:
    extra = f" ({outcome.deliveries} delivery row(s) queued)" if outcome.deliveries else ""
    print(outcome.summary + extra)
    return 0


@command("mod queue")
async def mod_queue(args: argparse.Namespace, settings: Settings) -> int:
    """List comments in one moderation state."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            rows = await db.list_comments_in_state(session, args.state, limit=args.limit)
            reasons = await db.hold_reasons(session, [comment.ap_id for comment in rows])
    if not rows:
        print(f"no {args.state} comments")
    from node.commands import plain_excerpt

    for comment in rows:
        entry = reasons.get(comment.ap_id)
        why = f"  [{entry.rule}: {entry.reason}]" if entry is not None else ""
        print(f"{comment.id:>7}  {comment.created_at:%Y-%m-%d %H:%M}  @{comment.actor.handle}{why}")
        print(f"         {plain_excerpt(comment.content, 100)}")
        print(f"         {comment.ap_id}")
    return 0


async def _on_comment(args: argparse.Namespace, settings: Settings, act) -> int:
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            comment = await actions.find_comment(session, args.comment)
            outcome = await act(node, session, comment, moderator=_who(args), reason=args.reason)
    return _print_outcome(outcome)


@command("mod approve")
async def mod_approve(args: argparse.Namespace, settings: Settings) -> int:
    """Approve a held comment."""
    return await _on_comment(args, settings, actions.approve)


@command("mod reject")
async def mod_reject(args: argparse.Namespace, settings: Settings) -> int:
    """Reject a held comment."""
    return await _on_comment(args, settings, actions.reject)


@command("mod remove")
async def mod_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a comment, leaving a placeholder."""
    return await _on_comment(args, settings, actions.remove)


@command("mod restore")
async def mod_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Restore a removed comment."""
    return await _on_comment(args, settings, actions.restore)


@command("mod report")
async def mod_report(args: argparse.Namespace, settings: Settings) -> int:
    """Report a remote comment to its origin server."""
    return await _on_comment(args, settings, actions.report_remote)


async def _lock(args: argparse.Namespace, settings: Settings, locked: bool) -> int:
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            target = await actions.find_thread(session, args.thread)
            outcome = await actions.lock(session, target, locked, moderator=_who(args), reason=args.reason)
    return _print_outcome(outcome)


@command("mod lock")
async def mod_lock(args: argparse.Namespace, settings: Settings) -> int:
    """Lock a thread."""
    return await _lock(args, settings, True)


@command("mod unlock")
async def mod_unlock(args: argparse.Namespace, settings: Settings) -> int:
    """Unlock a thread."""
    return await _lock(args, settings, False)


@command("mod replies")
async def mod_replies(args: argparse.Namespace, settings: Settings) -> int:
    """Set an article's reply policy."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            article = await actions.find_thread(session, args.article)
            close_at = (article.published + timedelta(days=args.close_after_days)
                        if args.close_after_days is not None else None)
            outcome = await actions.set_reply_policy(session, article, args.policy, moderator=_who(args),
                                                     close_at=close_at, reason=args.reason)
    return _print_outcome(outcome)


@command("mod ban")
async def mod_ban(args: argparse.Namespace, settings: Settings) -> int:
    """Ban an actor."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            actor = await actions.find_actor(session, args.actor)
            expires = utcnow() + timedelta(days=args.days) if args.days else None
            outcome = await actions.ban(node, session, actor, moderator=_who(args), reason=args.reason,
                                        expires_at=expires, remove_comments=args.remove_comments)
    return _print_outcome(outcome)


@command("mod unban")
async def mod_unban(args: argparse.Namespace, settings: Settings) -> int:
    """Lift a ban."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            actor = await actions.find_actor(session, args.actor)
            outcome = await actions.unban(session, actor, moderator=_who(args), reason=args.reason)
    return _print_outcome(outcome)


@command("mod bans")
async def mod_bans(args: argparse.Namespace, settings: Settings) -> int:
    """List bans in force."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            bans = await db.active_bans(session)
    if not bans:
        print("nobody is banned")
    for ban in bans:
        until = f"until {ban.expires_at:%Y-%m-%d %H:%M} UTC" if ban.expires_at else "for good"
        print(f"{ban.actor_ap_id}  {until}  by {ban.moderator}" + (f": {ban.reason}" if ban.reason else ""))
    return 0


@command("mod block")
async def mod_block(args: argparse.Namespace, settings: Settings) -> int:
    """Block a domain."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            outcome = await actions.block_domain(session, args.domain, args.severity, moderator=_who(args),
                                                 reason=args.reason)
    return _print_outcome(outcome)


@command("mod unblock")
async def mod_unblock(args: argparse.Namespace, settings: Settings) -> int:
    """Lift a domain block."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            outcome = await actions.unblock_domain(session, args.domain, moderator=_who(args), reason=args.reason)
    return _print_outcome(outcome)


@command("mod blocks")
async def mod_blocks(args: argparse.Namespace, settings: Settings) -> int:
    """List domain blocks."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            blocks = await db.list_domain_blocks(session)
    if not blocks:
        print("no domain is blocked")
    for block in blocks:
        comment = f"  {block.public_comment}" if block.public_comment else ""
        print(f"{block.severity:<8} {block.domain:<40} from {block.source}{comment}")
    return 0


@command("mod import")
async def mod_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a Mastodon domain blocklist (all or nothing)."""
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise blocklist.BlocklistError(f"{args.file}: cannot read ({exc.__class__.__name__})") from None
    entries = blocklist.parse(text)
    source = "import:" + (args.source or args.file.name)
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            plan = await actions.import_blocklist(session, entries, source, moderator=_who(args),
                                                  apply=not args.dry_run)
    for line in plan.lines():
        print(line)
    print("dry run: nothing changed" if args.dry_run else f"applied from {source}")
    return 0


@command("mod export")
async def mod_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export the domain blocks as Mastodon's CSV."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            text = blocklist.export(await db.list_domain_blocks(session))
    if args.file:
        args.file.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10)) - 1} block(s) to {args.file}")
    else:
        sys.stdout.write(text)
    return 0


@command("mod reports")
async def mod_reports(args: argparse.Namespace, settings: Settings) -> int:
    """List reports."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            reports = await db.list_reports(session, state=None if args.all else "open")
    if not reports:
        print("no open reports" if not args.all else "no reports")
    for report in reports:
        print(f"{report.id:>6}  {report.state:<8} {report.direction:<3} {report.created_at:%Y-%m-%d %H:%M}  "
              f"from {report.reporter_ap_id}")
        print(f"        about {report.target_actor_ap_id or '(unknown actor)'}"
              + (f": {report.content}" if report.content else ""))
        for ident in report.object_ap_ids or []:
            print(f"        - {ident}")
        if report.resolution:
            print(f"        resolved: {report.resolution}")
    return 0


@command("mod resolve")
async def mod_resolve(args: argparse.Namespace, settings: Settings) -> int:
    """Close a report with what was done."""
    async with opened_node(settings) as node:
        async with node.sessions.begin() as session:
            outcome = await actions.resolve_report(session, args.report, moderator=_who(args),
                                                   resolution=args.resolution, node=node,
                                                   remove_posts=args.remove, ban_actor=args.ban)
    return _print_outcome(outcome)


@command("mod log")
async def mod_log(args: argparse.Namespace, settings: Settings) -> int:
    """Show the mod log."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            entries = await db.list_log(session, limit=args.limit, target=args.target)
    if not entries:
        print("the mod log is empty")
    for entry in entries:
        rule = f" [{entry.rule}]" if entry.rule else ""
        reason = f": {entry.reason}" if entry.reason else ""
        print(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.moderator:<12} {entry.action:<14} {entry.target}{rule}{reason}")
    return 0


@command("mod rules")
async def mod_rules(args: argparse.Namespace, settings: Settings) -> int:
    """List the policy rules with their hit counters."""
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            hits = await db.list_rule_hits(session)
    dry = set(settings.moderation_dry_run)
    for number, rule in enumerate(RULES, start=1):
        row = hits.get(rule.name)
        counted = f"{row.hits if row else 0} hit(s)" + (f", {row.dry_hits} in dry run" if row and row.dry_hits else "")
        mode = "  DRY RUN" if rule.name in dry else ""
        print(f"{number:>2}. {rule.name:<15} {rule.verdict.value:<7} {counted:<24}{mode}  {rule.description}")
    return 0
