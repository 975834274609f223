"""The site's own settings as they apply now: the configuration's values, overridden by what an admin saved.

An admin changes the site's name, summary, rules, picture and registration mode
on the web (``/admin/site``); those are stored in the ``site_settings`` table and
override the configuration file's ``site_name``, ``site_summary``, ``site_rules``
and ``registration_mode``, which stay the defaults (a key never saved, or reset,
follows the file).

Every process keeps a snapshot (``SiteCache``) for the pages it renders, read
again when older than ``REFRESH_SECONDS``: the process that saved a change sees
it at once, the others within that time, one read at a time (``node.snapshot``, like the
moderation gate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy.ext.asyncio import async_sessionmaker

from node.config import Settings
from node.db import site_settings as db
from node.snapshot import Freshness

REFRESH_SECONDS = 10.0

# Keys of the site_settings table, each overriding the setting of the same name (site_avatar has none).
KEYS = ("site_name", "site_summary", "site_rules", "registration_mode", "site_avatar")


@dataclass(frozen=True)
class SiteSettings:
    """The site's settings in force."""

    name: str
    summary: str  # plain text
    rules: str  # plain text, one rule a line
    registration_mode: str  # open | approval | invite | closed (node.config.REGISTRATION_MODES)
    avatar_url: str | None  # the Group's picture (/images/<sha256>.<ext>), None for none

    @property
    def rule_list(self) -> list[str]:
        """The rules, one per non-empty line, without list markers people type ("1.", "-")."""
        rules = []
        for line in self.rules.splitlines():
            text = line.strip().lstrip("-*•").strip()
            head, dot, rest = text.partition(".")
            if dot and head.isdigit():
                text = rest.strip()
            if text:
                rules.append(text)
        return rules


def effective(settings: Settings, stored: Mapping[str, Any]) -> SiteSettings:
    """The settings in force: each stored value where there is one, the configuration's otherwise."""
    def pick(key: str, default: Any) -> Any:
        value = stored.get(key)
        return value if isinstance(value, str) else default

    return SiteSettings(
        name=pick("site_name", settings.site_name),
        summary=pick("site_summary", settings.site_summary),
        rules=pick("site_rules", getattr(settings, "site_rules", "")),
        registration_mode=pick("registration_mode", getattr(settings, "registration_mode", "closed")),
        avatar_url=pick("site_avatar", None),
    )


class SiteCache:
    """This process's snapshot of the site settings."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker, *, clock=time.monotonic) -> None:
        self.settings = settings
        self.sessions = sessions
        self._freshness = Freshness(REFRESH_SECONDS, clock)
        self.current = effective(settings, {})

    async def refresh(self) -> SiteSettings:
        async with self.sessions() as session:
            stored = await db.load(session)
        self.set(stored)
        return self.current

    def set(self, stored: Mapping[str, Any]) -> None:
        """Take ``stored`` (all the site_settings rows) as the snapshot now (this process just saved them)."""
        self.current = effective(self.settings, stored)
        self._freshness.read()

    async def fresh(self) -> SiteSettings:
        """The settings, read again first if the snapshot is older than ``REFRESH_SECONDS``."""
        await self._freshness.ensure(self.refresh)
        return self.current


def current(node: Any) -> SiteSettings:
    """The site settings in force for ``node`` (its snapshot; the configuration's before it has one)."""
    cache = getattr(node, "site", None)
    return cache.current if cache is not None else effective(node.settings, {})
