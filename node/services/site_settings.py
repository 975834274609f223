"""Changing the site's settings from the web: stored, applied to the site Group, told to its followers.

Saving the name, summary or picture changes the Group actor's row and, in the
same transaction, queues an ``Update`` of the Group for its followers
(``federation.actor_updates.update_if_changed``: the document's hash is claimed by
compare-and-set, so the change goes out once, even when two admins save the same
thing at the same moment).  The rules and the registration mode change only
pages.  Every change is written to the mod log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from node import config
from node.db import avatars as db_avatars
from node.db import moderation as db_moderation
from node.db import queries
from node.db import site_settings as db
from node.errors import NodeError
from node.federation.actor_updates import update_if_changed
from node.members.avatars import make_avatar
from node.services.setup import summary_html
from node.site import effective

if TYPE_CHECKING:
    from node.app import Node

NAME_MAX = 100
SUMMARY_MAX = 500
RULES_MAX = 5000


class SiteSettingsError(NodeError):
    """A value an admin typed that cannot be saved; ``field`` names the form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Saved:
    """What saving did: the keys that changed and how many Update deliveries were queued."""

    changed: tuple[str, ...]
    deliveries: int


def _text(value: Any, field: str, maximum: int, *, required: bool = False, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise SiteSettingsError(f"{field} must be text", field)
    text = value.replace("\r\n", "\n").strip()
    if not multiline:
        text = " ".join(text.split())
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text) or "\x7f" in text:
        raise SiteSettingsError("Control characters are not allowed.", field)
    if required and not text:
        raise SiteSettingsError("This cannot be empty.", field)
    if len(text) > maximum:
        raise SiteSettingsError(f"At most {maximum} characters (this is {len(text)}).", field)
    return text


def validate(values: Mapping[str, Any]) -> dict[str, str]:
    """The form's values checked and normalised, key → text; SiteSettingsError names the first bad field."""
    checked: dict[str, str] = {}
    if "site_name" in values:
        checked["site_name"] = _text(values["site_name"], "site_name", NAME_MAX, required=True)
    if "site_summary" in values:
        checked["site_summary"] = _text(values["site_summary"], "site_summary", SUMMARY_MAX, multiline=True)
    if "site_rules" in values:
        checked["site_rules"] = _text(values["site_rules"], "site_rules", RULES_MAX, multiline=True)
    if "registration_mode" in values:
        mode = values["registration_mode"]
        if mode not in config.REGISTRATION_MODES:
            raise SiteSettingsError(f"Registration is one of {', '.join(config.REGISTRATION_MODES)}.",
                                    "registration_mode")
        checked["registration_mode"] = mode
    return checked


async def _apply(node: "Node", changes: Mapping[str, str | None], *, by: str) -> Saved:
    """Store ``changes`` (None: back to the configuration's value), update the Group, queue its Update."""
    async with node.sessions.begin() as session:
        stored = await db.load(session)
        before = effective(node.settings, stored)
        for key, value in changes.items():
            if value is None:
                await db.drop(session, key)
                stored.pop(key, None)
            else:
                await db.put(session, key, value, by=by)
                stored[key] = value
        after = effective(node.settings, stored)
        changed = tuple(k for k, old, new in (
            ("site_name", before.name, after.name), ("site_summary", before.summary, after.summary),
            ("site_rules", before.rules, after.rules),
            ("registration_mode", before.registration_mode, after.registration_mode),
            ("site_avatar", before.avatar_url, after.avatar_url)) if old != new)
        deliveries = 0
        group = await queries.get_local_actor(session, node.settings.site_username)
        if group is not None:
            group.name, group.summary = after.name, summary_html(after.summary)  # its icon: its avatar row
            deliveries = await update_if_changed(node, session, group)
        for key in changed:
            db_moderation.log_entry(session, moderator=by, action="site", target=key,
                                    reason=_logged(key, getattr(after, _FIELDS[key])))
    if getattr(node, "site", None) is not None:
        node.site.set(stored)
    if deliveries:
        node.wake_delivery()
    return Saved(changed=changed, deliveries=deliveries)


_FIELDS = {"site_name": "name", "site_summary": "summary", "site_rules": "rules",
           "registration_mode": "registration_mode", "site_avatar": "avatar_url"}


def _logged(key: str, value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 200 else text[:199] + "…"


async def save(node: "Node", values: Mapping[str, Any], *, by: str) -> Saved:
    """Save the site's name, summary, rules and registration mode (those given); the Group's followers
    get an ``Update`` when its document changed."""
    return await _apply(node, validate(values), by=by)


async def reset(node: "Node", keys: tuple[str, ...], *, by: str) -> Saved:
    """Forget the saved values of ``keys``: the configuration file's values apply again."""
    unknown = [k for k in keys if k not in _FIELDS]
    if unknown:
        raise SiteSettingsError(f"{unknown[0]} is not a site setting", unknown[0])
    return await _apply(node, {key: None for key in keys}, by=by)


async def set_avatar(node: "Node", data: bytes, *, by: str) -> Saved:
    """Make ``data`` the site's picture: checked and re-encoded as members' avatars are
    (``node.members.avatars``, ``AvatarError`` when refused), stored as the Group actor's avatar,
    and sent as the Group's ``icon``."""
    picture = await asyncio.to_thread(make_avatar, data, max_bytes=node.settings.avatar_max_bytes,
                                      max_pixels=node.settings.avatar_max_pixels)
    async with node.sessions.begin() as session:
        group = await _group(node, session)
        await db_avatars.set_avatar(session, group.id, data=picture.data, media_type=picture.media_type,
                                    digest=picture.digest, width=picture.width, height=picture.height)
        url = node.urls.avatar(group.id, picture.digest)
    return await _apply(node, {"site_avatar": url}, by=by)


async def remove_avatar(node: "Node", *, by: str) -> Saved:
    """The site has no picture any more (the Group's ``icon`` goes; followers are told)."""
    async with node.sessions.begin() as session:
        await db_avatars.remove_avatar(session, (await _group(node, session)).id)
    return await _apply(node, {"site_avatar": None}, by=by)


async def _group(node: "Node", session):
    group = await queries.get_local_actor(session, node.settings.site_username)
    if group is None:
        raise SiteSettingsError("The site is not set up yet (fednode init).", "picture")
    return group
