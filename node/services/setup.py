"""Local actors: the instance actor, the site's Group and the authors, each with a key pair."""

from __future__ import annotations

import html

from sqlalchemy.ext.asyncio import AsyncSession

from node import keys
from node.config import USERNAME_RE, Settings
from node.db import queries, site_settings
from node.db.models import Actor
from node.errors import ConfigError
from node.site import effective
from node.urls import INSTANCE_ACTOR_USERNAME, Urls


async def ensure_local_actor(
    session: AsyncSession, settings: Settings, username: str, ap_type: str, name: str, summary: str = ""
) -> tuple[Actor, bool]:
    """Get or create a local actor and its key; return (actor, created).

    An existing actor keeps its name and key: running setup again changes nothing.
    """
    urls = Urls(settings.base)
    actor = await queries.get_local_actor(session, username)
    key_file = keys.key_path(settings.keys_dir, username)
    if actor is not None:
        if not key_file.exists():
            raise ConfigError(
                f"keys_dir: the key of {username!r} is missing ({key_file}); restore it from your backup "
                "(a new key would break every remote server's copy)"
            )
        return actor, False
    keys.ensure_key(settings.keys_dir, username)
    private_key = keys.load_private_key(settings.keys_dir, username)
    actor = Actor(
        ap_id=urls.actor(username),
        ap_type=ap_type,
        is_local=True,
        username=username,
        domain=settings.host,
        name=name,
        summary=summary_html(summary),
        url=urls.profile(username) if ap_type != "Application" else urls.actor(username),
        inbox=urls.inbox(username),
        shared_inbox=urls.shared_inbox,
        outbox=urls.outbox(username),
        followers=urls.followers(username),
        following=urls.following(username),
        public_key_id=urls.key_id(username),
        public_key_pem=keys.public_pem(private_key),
    )
    session.add(actor)
    await session.flush()
    return actor, True


def summary_html(text: str) -> str:
    """A plain-text description as the HTML an actor's ``summary`` holds (escaped, in a paragraph)."""
    # ActivityStreams summaries are HTML, and the column holds sanitised HTML for remote
    # actors too: storing the operator's text raw would let '&' or '<' be read as markup.
    return f"<p>{html.escape(text.strip(), quote=False)}</p>" if text.strip() else ""


async def ensure_site(session: AsyncSession, settings: Settings) -> dict[str, bool]:
    """Create the instance actor, the site Group and the default author when missing."""
    created = {}
    _, created["instance actor"] = await ensure_local_actor(
        session, settings, INSTANCE_ACTOR_USERNAME, "Application", settings.host,
        "Signs this node's requests to other servers.",
    )
    # The site settings in force are the Group's source of truth: the configuration's, overridden
    # by what an admin saved on the web (node.site).  A renamed site renames its actor
    # (``federation.actor_updates`` then tells the followers, at the server's start).
    site = effective(settings, await site_settings.load(session))
    group, created[f"site group @{settings.site_username}"] = await ensure_local_actor(
        session, settings, settings.site_username, "Group", site.name, site.summary,
    )
    if (group.name, group.summary) != (site.name, summary_html(site.summary)):
        group.name, group.summary = site.name, summary_html(site.summary)
    _, created[f"author @{settings.default_author}"] = await ensure_local_actor(
        session, settings, settings.default_author, "Person", settings.default_author.capitalize(),
    )
    return created


async def add_author(session: AsyncSession, settings: Settings, username: str, name: str | None = None) -> tuple[Actor, bool]:
    """Add a local author (a Person); usernames are a-z, 0-9 and _ as Mastodon requires."""
    if not USERNAME_RE.match(username):
        raise ConfigError(f"author name {username!r} must be 1-30 characters of a-z, 0-9 and _")
    if username == settings.site_username:
        raise ConfigError(f"author name {username!r} is the site's own handle (site_username)")
    existing = await queries.get_local_actor(session, username)
    if existing is not None and existing.ap_type != "Person":
        raise ConfigError(f"{username!r} is already a {existing.ap_type} actor on this node")
    return await ensure_local_actor(session, settings, username, "Person", name or username.capitalize())
