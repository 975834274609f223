"""One page of a discussion: which comments it holds, in what order, and the cache of rendered pages.

A page is a *view* of the thread anchored at the article (the discussion) or at one
comment (a "continue this thread" page, ``?thread=<id>``), and a page number over
the anchor's direct replies.  It holds at most ``discussion_page_size`` comments:

1. up to ``TOP_PER_PAGE`` direct replies of the anchor (``?page=N`` pages them),
2. then their replies, level by level, at most ``REPLIES_PER_COMMENT`` under each
   comment and ``MAX_PAGE_DEPTH`` levels deep; within a level, every comment's
   first reply comes before any comment's second, so one busy branch does not
   crowd out the others.

What does not fit gets a "continue this thread" link to the comment's own view.
Each step reads a bounded number of rows (``node.db.discussion``), so the cost of
a page does not grow with the thread.  Comments are in the order we received
them; every comment has a stable anchor ``#c-<id>``, and the main discussion keeps
the old positional anchors (``#comment-1.2``) where it can compute them cheaply.

Rendered pages are cached per process, keyed by the thread's version (the newest
``changed_at`` of its comments): any stored, edited, deleted or liked comment
changes the version and so the key.  Concurrent requests for the same missing page
share one rendering.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from node.db import discussion as db
from node.db.models import Object
from node.threads import MAX_INDENT
from node.web.attachments import Attachment, Poll, attachments_of, poll_of
from node.web import member_view as member_buttons
from node.web.render import REQUEST, environment, fold_leading_mentions, safe_href

TOP_PER_PAGE = 50  # direct replies of the anchor on one page (the old "50 top-level threads a page")
REPLIES_PER_COMMENT = 10  # replies shown under one comment before "continue this thread"
MAX_PAGE_DEPTH = 10  # levels below the anchor's direct replies on one page
MAX_WARNING = 500
CACHE_BYTES = 32 * 1024 * 1024  # rendered pages kept in memory, per process
CACHE_SECONDS = 600  # a cached page is rendered again after this long anyway (an author renamed...)
FRESH_SECONDS = 60  # ... and after a minute while it shows a comment younger than an hour ("5 minutes ago")


def top_per_page(page_size: int) -> int:
    """Direct replies of the anchor on one page, for a ``discussion_page_size`` of ``page_size``."""
    return max(1, min(TOP_PER_PAGE, page_size // 3))


@dataclass(frozen=True)
class Row:
    """One comment as a page shows it."""

    comment: Object
    depth: int  # 0 for a direct reply of the view's anchor
    indent: int  # depth capped at MAX_INDENT
    content: Markup | None  # None for a deleted comment (a placeholder)
    original: str | None  # where the comment lives (its url, else its id), http(s) only
    warning: str | None  # a content warning: the text shows when the reader opens it
    attachments: tuple[Attachment, ...] = ()
    poll: Poll | None = None
    legacy_anchor: str | None = None  # "1.2": where the old numbered anchors pointed
    parent: Object | None = None  # named when the indentation no longer shows what it answers
    orphan: bool = False  # it answers a message not shown on public pages
    more: int = 0  # replies not on this page (0: none), shown as "continue this thread"

    @property
    def author(self):
        return self.comment.actor


@dataclass
class View:
    """What one page shows: its anchor, its rows, and where the neighbouring pages are."""

    root: Object
    anchor: Object | None  # None for the whole discussion; the comment of a "continue this thread" page
    number: int  # 1-based page number over the anchor's direct replies
    count: int  # how many such pages there are (at least 1)
    rows: list[Row] = field(default_factory=list)
    total: int = 0  # the thread's comment count (node.db.discussion.counted)
    removed: int = 0  # comments of the thread removed by the moderators

    @property
    def query(self) -> str:
        """The query string that leads to this view's first page (for page links)."""
        return f"?thread={self.anchor.id}&" if self.anchor is not None else "?"


def content_warning(comment: Object) -> str | None:
    """The content warning of a remote note: its ``summary`` (plain text, as Mastodon and Misskey send it).

    On an Article or a Page, ``summary`` is an abstract, not a warning.
    """
    raw = comment.raw if isinstance(comment.raw, dict) else {}
    summary = raw.get("summary")
    if comment.is_local or comment.ap_type not in ("Note", "Question") or not isinstance(summary, str):
        return None
    return summary.strip()[:MAX_WARNING] or None


def _row(comment: Object, depth: int, **extra: Any) -> Row:
    indent = min(depth, MAX_INDENT)
    if db.is_placeholder(comment):
        return Row(comment, depth, indent, None, None, None, **extra)
    html = comment.content or ""
    if not comment.is_local:
        html = fold_leading_mentions(html)
    return Row(comment, depth, indent, Markup(html), safe_href(comment.url) or safe_href(comment.ap_id),
               content_warning(comment), attachments_of(comment), poll_of(comment), **extra)


async def build_view(session: AsyncSession, root: Object, anchor: Object | None, number: int, *,
                     page_size: int, counts: tuple[int, int] = (0, 0)) -> View | None:
    """The rows of page ``number`` of the view of ``root``'s thread at ``anchor``; None past the last page.

    ``counts`` are the thread's (comment count, removed count), kept per version by the caller.
    """
    per_page = top_per_page(page_size)
    parent_id = anchor.id if anchor is not None else root.id
    count = max(1, -(-await db.count_children(session, parent_id) // per_page))
    if number > count:
        return None
    view = View(root, anchor, number, count, total=counts[0], removed=counts[1])
    tops = list(await db.list_children_page(session, parent_id, limit=per_page, offset=(number - 1) * per_page))
    budget = page_size - len(tops) - (1 if anchor is not None else 0)
    walk = await db.walk_replies(session, tops, budget=budget, per_parent=REPLIES_PER_COMMENT,
                                 max_depth=MAX_PAGE_DEPTH)
    nodes, children = walk.nodes, walk.children

    top_offset = (number - 1) * per_page
    if anchor is not None:
        view.rows.append(_row(anchor, 0, more=0, parent=None))
    base_depth = 1 if anchor is not None else 0
    # Depth first, in the order received; an explicit stack, as threads can be deep.
    stack: list[tuple[int, int, str | None, Object | None, bool]] = []
    for position, top in reversed(list(enumerate(tops, top_offset + 1))):
        legacy = str(position) if anchor is None else None
        stack.append((top.id, base_depth, legacy, anchor, False))
    while stack:
        comment_id, depth, legacy, parent, orphan = stack.pop()
        comment = nodes[comment_id]
        kids = children.get(comment_id, [])
        if not db.is_shown(comment):
            # Not for public pages: its public replies take its place, saying they answer something not shown.
            for kid in reversed(kids):
                stack.append((kid, depth, None, None, True))
            continue
        view.rows.append(_row(
            comment, depth, legacy_anchor=legacy, orphan=orphan, more=walk.more_of(comment),
            parent=parent if parent is not None and depth > MAX_INDENT else None,
        ))
        shown_kids = [kid for kid in kids if db.is_shown(nodes[kid])]
        numbers = {kid: n for n, kid in enumerate(shown_kids, 1)}
        for kid in reversed(kids):
            kid_legacy = f"{legacy}.{numbers[kid]}" if legacy is not None and kid in numbers else None
            stack.append((kid, depth + 1, kid_legacy, comment, False))
    return view


# --- the cache of rendered pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A rendered discussion section and what the page around it needs to know."""

    html: Markup
    total: int
    number: int
    count: int
    removed: int = 0
    max_age: float | None = None  # seconds it may be served (None: the cache's own limit)
    parts: tuple = ()  # the member rendering cut at its markers (node.web.member_view.split)
    version: Any = None  # the thread version it was rendered for


class PageCache:
    """Rendered pages by (thread, view, page), each valid for one version of its thread.

    Least recently used pages go first once ``max_bytes`` of HTML are held.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES, max_age: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes, self.max_age, self.clock = max_bytes, max_age, clock
        self._pages: OrderedDict[tuple, tuple[Any, float, Rendered | None]] = OrderedDict()
        self._size = 0
        self._pending: dict[tuple, asyncio.Future] = {}
        self._counts: OrderedDict[int, tuple[Any, tuple[int, int]]] = OrderedDict()  # thread -> (version, counts)
        self.renders = 0  # how many pages were rendered (not served from the cache)

    async def thread_counts(self, session: AsyncSession, root_id: int, version: Any) -> tuple[int, int]:
        """(comment count, removed count) of one thread at ``version``, counted again only when it changed."""
        known = self._counts.get(root_id)
        if known is None or known[0] != version:
            counts = await db.count_comments_and_removed(session, root_id) if version is not None else (0, 0)
            known = (version, counts)
            self._counts[root_id] = known
            while len(self._counts) > 10_000:
                self._counts.popitem(last=False)
        return known[1]

    async def comment_counts(self, session: AsyncSession, root_ids: list[int]) -> dict[int, int]:
        """Each thread's comment count (``node.db.discussion.counted``), counted again only when it changed."""
        versions = await db.thread_versions(session, root_ids)
        return {root_id: (await self.thread_counts(session, root_id, version))[0]
                for root_id, version in versions.items()}

    def _get(self, key: tuple, version: Any) -> tuple[bool, Rendered | None]:
        entry = self._pages.get(key)
        max_age = entry[2].max_age if entry is not None and entry[2] is not None and entry[2].max_age else self.max_age
        if entry is None or entry[0] != version or self.clock() - entry[1] > max_age:
            return False, None
        self._pages.move_to_end(key)
        return True, entry[2]

    def _put(self, key: tuple, version: Any, page: Rendered | None) -> None:
        old = self._pages.pop(key, None)
        if old is not None and old[2] is not None:
            self._size -= len(old[2].html)
        self._pages[key] = (version, self.clock(), page)
        self._size += len(page.html) if page is not None else 0
        while self._size > self.max_bytes and len(self._pages) > 1:
            _, (_, _, dropped) = self._pages.popitem(last=False)
            self._size -= len(dropped.html) if dropped is not None else 0

    async def get(self, key: tuple, version: Any, render: Callable[[], Awaitable[Rendered | None]]) -> Rendered | None:
        """The page at ``key`` for ``version``, rendering it (once, however many ask at the same time) if needed."""
        hit, page = self._get(key, version)
        if hit:
            return page
        pending_key = (key, version)
        if pending_key in self._pending:
            return await asyncio.shield(self._pending[pending_key])
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[pending_key] = future
        try:
            page = await render()
            self.renders += 1
            self._put(key, version, page)
            future.set_result(page)
            return page
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._pending.pop(pending_key, None)


async def rendered_page(cache: PageCache, sessions, root: Object, anchor_id: int | None, number: int, *,
                        page_size: int, member_view: bool = False) -> Rendered | None:
    """The discussion section of one page, from the cache when the thread has not changed since.

    None when the page does not exist (past the last page, or an anchor that is not a shown comment of the thread).
    ``member_view``: the variant for signed-in members, shared by all of them: its reply links
    lead to the reply page and each comment carries a marker that ``node.web.member_view``
    fills in per member (their like and boost forms, edit and delete on their own comments).
    """
    async with sessions() as session:
        version: datetime | None = (await db.thread_versions(session, [root.id]))[root.id]

    async def render() -> Rendered | None:
        async with sessions() as session:
            anchor = None
            if anchor_id is not None:
                anchor = await db.get_comment_in_thread(session, root.id, anchor_id)
                if anchor is None:
                    return None
            counts = await cache.thread_counts(session, root.id, version)
            view = await build_view(session, root, anchor, number, page_size=page_size, counts=counts)
            parent = None
            if anchor is not None and anchor.parent_id not in (None, root.id):
                parent = (await db.list_objects(session, [anchor.parent_id])).get(anchor.parent_id)
        if view is None:
            return None
        # Cached and shared by every reader: rendered outside the request, so nobody's
        # CSRF token or name can end up in it (csrf_token() raises here).
        outside = REQUEST.set(None)
        try:
            html = environment().get_template("comments.html").render(view=view, article=root, parent=parent,
                                                                       member_view=member_view)
        finally:
            REQUEST.reset(outside)
        return Rendered(Markup(html), view.total, view.number, view.count, view.removed, max_age=_max_age(view),
                        parts=member_buttons.split(html) if member_view else (), version=version)

    return await cache.get((root.id, anchor_id, number, page_size, member_view), version, render)


def _max_age(view: View) -> float | None:
    """How long a rendering may be served: shorter while it says "5 minutes ago" of a comment (relative times)."""
    if not view.rows:
        return None
    newest = max(row.comment.published for row in view.rows)
    return FRESH_SECONDS if (datetime.now(timezone.utc) - newest).total_seconds() < 3600 else None


async def comment_place(session: AsyncSession, root: Object, comment: Object, *, page_size: int) -> str:
    """Where a browser sees ``comment``: the page of the discussion that shows it, at ``#c-<id>``.

    The main discussion's page when it holds the comment, else the "continue this
    thread" page of its parent (which always shows it, under what it answers).
    """
    per_page = top_per_page(page_size)
    anchor = f"#c-{comment.id}"
    ancestors = await db.list_ancestor_ids(session, comment, limit=MAX_PAGE_DEPTH + 2)
    top_id = ancestors[-1] if ancestors else comment.id
    top = comment if top_id == comment.id else (await db.list_objects(session, [top_id])).get(top_id)
    if top is None or top.parent_id != root.id:
        return f"{root.url}#discussion"
    number = await db.position_among_siblings(session, top) // per_page + 1
    if len(ancestors) <= MAX_PAGE_DEPTH:
        view = await build_view(session, root, None, number, page_size=page_size)
        if view is not None and any(row.comment.id == comment.id for row in view.rows):
            return f"{root.url}{f'?page={number}' if number > 1 else ''}{anchor}"
    if not ancestors:
        return f"{root.url}{f'?page={number}' if number > 1 else ''}{anchor}"
    number = await db.position_among_siblings(session, comment) // per_page + 1
    return f"{root.url}?thread={ancestors[0]}{f'&page={number}' if number > 1 else ''}{anchor}"
