"""Resolve, then apply: network fetches never happen inside a database transaction.

On SQLite a transaction that has written holds the database's only write lock,
so a fetch inside one (up to the 30 s read timeout) would stall the inbox's
group commit and every other writer for that long.  Every place that applies
something received (the processor's handlers, the reply path, the crawler)
therefore runs its transaction through ``resolve_then_apply``:

1. the apply step runs in a transaction with a ``Resolved`` fetcher that only
   answers from what was already fetched; a document it does not have raises
   ``Unresolved`` — before any I/O, and the transaction rolls back;
2. the missing document is fetched *outside* any transaction (its error, if it
   fails, is kept and raised in its place later, as the real fetch would);
3. the apply step runs again from the start, with one more document.

The final run, the one that commits, does nothing but database statements.
Most activities need nothing fetched and run once; a reply whose parent chain
is missing runs once per missing document, within ``MAX_FETCHES`` (which
covers the reply path's own chain and author budgets).  Every fetch goes
through the caller's ``fetch`` function, so the crawler's per-host budgets
still apply.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from node.errors import FetchError, InvalidDocument, NodeError, OriginMismatch

log = logging.getLogger("fednode.resolve")

T = TypeVar("T")
Fetch = Callable[..., Awaitable[dict[str, Any]]]  # (url, *, signed=True) -> document, as Fetcher.get_activitypub

MAX_FETCHES = 48  # documents one application may fetch: a reply chain (16), its authors (16), and room to spare


class Unresolved(Exception):
    """The apply step needs a document that was not fetched yet (not a NodeError: handlers must not catch it)."""

    def __init__(self, url: str, signed: bool) -> None:
        super().__init__(url)
        self.url = url
        self.signed = signed


class TooManyFetches(FetchError):
    """An application asked for more documents than ``MAX_FETCHES``."""


class Resolved:
    """A fetcher for apply steps: answers from documents fetched beforehand, never from the network."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, bool], dict[str, Any]] = {}
        self.errors: dict[tuple[str, bool], NodeError] = {}

    async def get_activitypub(self, url: str, *, signed: bool = True) -> dict[str, Any]:
        key = (url, signed)
        if key in self.documents:
            return self.documents[key]
        if key in self.errors:
            raise self.errors[key]
        raise Unresolved(url, signed)

    @property
    def fetched(self) -> int:
        return len(self.documents) + len(self.errors)

    async def fetch(self, fetch: Fetch, missing: Unresolved) -> None:
        """Fetch one missing document with ``fetch`` (outside any transaction) and keep it, or its error."""
        key = (missing.url, missing.signed)
        try:
            self.documents[key] = await fetch(missing.url, signed=missing.signed)
        except (FetchError, InvalidDocument, OriginMismatch) as exc:
            self.errors[key] = exc


async def resolve_then_apply(
    sessions: async_sessionmaker, fetch: Fetch, apply: Callable[[AsyncSession, Resolved], Awaitable[T]],
    *, resolved: Resolved | None = None, max_fetches: int = MAX_FETCHES,
) -> T:
    """Run ``apply(session, fetcher)`` in one transaction, fetching what it lacks between tries (see above)."""
    resolved = resolved or Resolved()
    while True:
        try:
            async with sessions.begin() as session:
                return await apply(session, resolved)
        except Unresolved as missing:  # the transaction rolled back: nothing is held while we fetch
            if resolved.fetched >= max_fetches:
                resolved.errors[(missing.url, missing.signed)] = TooManyFetches(
                    f"more than {max_fetches} documents needed; {missing.url} not fetched")
                continue
            await resolved.fetch(fetch, missing)


async def apply_without_fetching(
    sessions: async_sessionmaker, apply: Callable[[AsyncSession, Resolved], Awaitable[T]],
) -> T:
    """Run ``apply`` once with nothing fetched; ``Unresolved`` (rolled back) when it needs a document."""
    async with sessions.begin() as session:
        return await apply(session, Resolved())
