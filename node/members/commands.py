"""``fednode admin …``: accounts from the command line (the first admin, invites, reset links).

Passwords are read from a prompt (twice, not echoed) or, for scripts, from standard input
with ``--password-stdin``; never from a flag, which would sit in the shell history and in
``ps`` for everyone on the machine to read.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta

from node.app import opened_node
from node.cli import command
from node.config import Settings
from node.errors import NodeError
from node.db import members as db
from node.members import accounts, links, usernames
from node.members.roles import Role


def add_parsers(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``fednode admin`` and its actions to the main parser."""
    admin = sub.add_parser("admin", parents=[parent], help="accounts: create the first admin, invites, reset links")
    actions = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", parents=[parent],
                                help="create an account (an admin unless --role says otherwise); asks for its password")
    create.add_argument("name", help="username: 1-30 characters of a-z, 0-9 and _")
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.ADMIN.value,
                        help="the account's role (default: admin)")
    create.add_argument("--email", help="e-mail address (optional; for password resets by e-mail)")
    create.add_argument("--display-name", help="the name shown on pages")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input instead of a prompt")
    invite = actions.add_parser("invite", parents=[parent], help="print a single-use invite link (invite-only registration)")
    invite.add_argument("--days", type=int, default=None, help="how long it stays valid (default: invite_days)")
    reset = actions.add_parser("reset-link", parents=[parent],
                               help="print a link that lets an account choose a new password (no e-mail needed)")
    reset.add_argument("name", help="the account's username")
    reset.add_argument("--hours", type=int, default=links.ADMIN_RESET_HOURS,
                       help=f"how long the link works (default: {links.ADMIN_RESET_HOURS})")


def read_password(args: argparse.Namespace) -> str:
    """The new password: the first line of stdin with ``--password-stdin``, else typed twice at a prompt."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise NodeError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise NodeError("the two passwords differ")
    return first


@command("admin create")
async def admin_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create an account, by default the admin who then runs the site from the web."""
    password = read_password(args)
    async with opened_node(settings) as node:
        try:
            member = await accounts.create_member(node, args.name, password, args.email, role=Role(args.role),
                                                  display_name=args.display_name, email_verified=bool(args.email))
        except accounts.AccountError as exc:
            raise NodeError(exc.message) from None
        print(f"created {member.role} @{member.username}@{settings.host}; sign in at {settings.base}/login")
    return 0


@command("admin invite")
async def admin_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new invite link."""
    if args.days is not None and not 1 <= args.days <= 365:
        raise NodeError("--days must be between 1 and 365")
    async with opened_node(settings) as node:
        link = await links.make_invite(node, days=args.days)
    print(link)
    if settings.registration_mode != "invite":
        print(f"note: registration_mode is {settings.registration_mode!r}; the link is only needed in invite mode",
              file=sys.stderr)
    return 0


@command("admin reset-link")
async def admin_reset_link(args: argparse.Namespace, settings: Settings) -> int:
    """Print a password-reset link for an account, to pass on by hand (when the node sends no e-mail)."""
    if not 1 <= args.hours <= 24 * 7:
        raise NodeError("--hours must be between 1 and 168")
    async with opened_node(settings) as node:
        async with node.sessions() as session:
            member = await db.get_member_by_username(session, usernames.normalize(args.name))
        if member is None:
            raise NodeError(f"no account @{usernames.normalize(args.name)}")
        link = await links.make_token(node, member, links.RESET, timedelta(hours=args.hours))
    print(link)
    return 0
