"""Articles by hashtag: what a tag page lists (node/web/pages.tag maps it to HTTP).

An article's tags are a JSON list, which SQLite and PostgreSQL query differently, so the
articles are read newest first in chunks of ``TAG_SCAN_CHUNK`` through the one named query
(``queries.list_articles``) and the tagged ones kept, up to one past the page asked for.
Tags compare case-insensitively, as the Hashtag ``href``s we publish are lower-case.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import queries
from node.db.models import Object

TAG_SCAN_CHUNK = 500


@dataclass(frozen=True)
class TaggedPage:
    """One page of the articles carrying a tag, and whether older ones follow."""

    articles: list[Object]
    has_older: bool


async def tagged_articles(session: AsyncSession, name: str, *, skip: int, limit: int) -> TaggedPage:
    """The site's articles tagged ``name`` (any case), newest first, ``limit`` of them after the first ``skip``."""
    wanted = name.lower()
    matching: list[Object] = []
    offset = 0
    while len(matching) <= skip + limit:
        chunk = await queries.list_articles(session, limit=TAG_SCAN_CHUNK, offset=offset)
        matching += [a for a in chunk if wanted in (t.lower() for t in a.tags or [])]
        offset += TAG_SCAN_CHUNK
        if len(chunk) < TAG_SCAN_CHUNK:
            break
    return TaggedPage(matching[skip:skip + limit], len(matching) > skip + limit)
