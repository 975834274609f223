"""Usernames by Mastodon's rules: ``[a-z0-9_]``, at most 30 characters, unique case-insensitively.

Mastodon's ``Account::USERNAME_RE`` for local accounts is ``[a-z0-9_]+`` matched case-insensitively,
its ``UsernameValidator`` caps local usernames at 30 characters, and uniqueness is compared on
``lower(username)``.  We store usernames lowercased, so ``Alice`` and ``alice`` are one name.
Names that would read as the site speaking (admin, support...) or that are our own URL segments
and actors (``/login``, ``/actor``, ``/inbox``...) are reserved, as Mastodon reserves its own.
"""

from __future__ import annotations

import re

MAX_LENGTH = 30
_ALLOWED = re.compile(r"^[a-z0-9_]+$")

# Our routes (node/web/routes.py), the names of our own actors, and names people would take for staff.
RESERVED = frozenset({
    # routes and URL segments
    "about", "account", "accounts", "activities", "actor", "actors", "admin", "api", "articles",
    "authorize_interaction", "comments", "context", "discussions", "embed", "feed", "feeds", "followers",
    "following", "healthz", "inbox", "interact", "invite", "invites", "login", "logout", "media", "members",
    "metrics", "nodeinfo", "notifications", "oauth", "outbox", "readyz", "register", "replies", "reset",
    "settings", "signin", "signout", "signup", "static", "tags", "threads", "verify", "webfinger",
    "well_known", "host_meta",
    # our own actors' and the site's
    "instance", "instance_actor", "forum", "fednode", "site", "group",
    # people would read these as the site speaking
    "administrator", "root", "system", "staff", "moderator", "moderators", "mod", "mods", "support",
    "help", "security", "abuse", "postmaster", "hostmaster", "webmaster", "noreply", "no_reply",
    "info", "mail", "www", "official", "owner", "anonymous", "everyone", "null", "undefined",
})


class UsernameError(ValueError):
    """Why a username cannot be used, in words for the person choosing it."""


def normalize(username: str) -> str:
    """The stored form of a typed username: trimmed, without a leading @, lowercase."""
    return username.strip().removeprefix("@").lower()


def check(username: str, *, site_username: str = "") -> str:
    """The normalised username, or ``UsernameError`` saying what is wrong with it.

    Uniqueness against existing accounts and actors is checked by the caller, in the database.
    """
    name = normalize(username)
    if not name:
        raise UsernameError("Choose a username.")
    if len(name) > MAX_LENGTH:
        raise UsernameError(f"A username has at most {MAX_LENGTH} characters.")
    if not _ALLOWED.match(name):
        raise UsernameError("A username can only have letters a-z, digits 0-9 and underscores (_).")
    if name in RESERVED or name == site_username.lower():
        raise UsernameError(f"The username {name!r} is reserved on this site; choose another.")
    return name
