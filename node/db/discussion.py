"""Queries for reading a discussion: what readers may see, what counts, and one page's rows.

Two definitions live here and nowhere else:

- ``shown(Object)``: whether a comment appears on the public pages at all (its text,
  or a ``[deleted]`` / ``[removed by moderators]`` placeholder): public or unlisted,
  and published or removed by the moderators (held, rejected and suspended ones are
  on no page; ``node.db.queries.ON_PAGE_STATES``).
- ``counted(Object)``: whether a comment counts in a thread's comment count: it is
  shown, not deleted and published (not removed).  The front page, the article page and ``fednode thread``
  all use ``count_comments`` / ``count_comments_of``, which apply it.

A discussion is read a page at a time (``node.web.discussion``): the direct
replies of one post a page (``list_children_page``), then a bounded number of
replies of those, level by level (``list_first_children``; ``walk_replies`` is that
walk, the one both the pages and the read API use).  Nothing here reads a
whole thread, so a page costs the same in a thread of 1,000 or 100,000 comments.
Comments are ordered by their row id, which is the order we received them in: a
sender's ``published`` date cannot move a reply above older ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from node.db.models import Object
from node.db.queries import ON_PAGE_STATES, SHOWN_STATE

SHOWN_VISIBILITIES = ("public", "unlisted")  # followers-only and direct replies never reach a public page


def shown(obj=Object) -> ColumnElement[bool]:
    """SQL: the comment (``obj``, the model or an alias) appears on public pages, as text or as a placeholder."""
    return and_(obj.visibility.in_(SHOWN_VISIBILITIES), obj.moderation.in_(ON_PAGE_STATES))


def is_shown(comment: Object) -> bool:
    """``shown`` for a loaded row (keep the two in step)."""
    return comment.visibility in SHOWN_VISIBILITIES and comment.moderation in ON_PAGE_STATES


def is_placeholder(comment: Object) -> bool:
    """Whether a shown comment appears only as a placeholder: deleted by its author, or removed by the moderators."""
    return comment.deleted_at is not None or comment.moderation != SHOWN_STATE


def counted(obj=Object) -> ColumnElement[bool]:
    """SQL: the comment counts in its thread's comment count (shown, not deleted, not removed)."""
    return and_(shown(obj), obj.deleted_at.is_(None), obj.moderation == SHOWN_STATE)


def is_counted(comment: Object) -> bool:
    """``counted`` for a loaded row."""
    return is_shown(comment) and not is_placeholder(comment)


async def count_comments_and_removed(session: AsyncSession, root_id: int) -> tuple[int, int]:
    """(the thread's comment count, how many of its comments the moderators removed), in one pass.

    The one query here that reads a whole thread (its index entries and rows): callers
    keep its answer per thread version (``node.web.discussion.PageCache``).
    """
    removed = and_(Object.visibility.in_(SHOWN_VISIBILITIES), Object.moderation == "removed")
    query = select(
        func.coalesce(func.sum(case((counted(), 1), else_=0)), 0),
        func.coalesce(func.sum(case((removed, 1), else_=0)), 0),
    ).where(Object.root_id == root_id, Object.kind == "comment")
    total, gone = (await session.execute(query)).one()
    return int(total), int(gone)


async def count_comments(session: AsyncSession, root_id: int) -> int:
    """A thread's comment count: its comments that are shown, not deleted and not removed (``counted``)."""
    return (await count_comments_and_removed(session, root_id))[0]


async def thread_versions(session: AsyncSession, root_ids: Iterable[int]) -> dict[int, datetime | None]:
    """Each thread's version: the newest ``changed_at`` of its comments (None for a thread without any).

    One index lookup per thread (``ix_objects_root_changed``), whatever the thread's size.
    """
    versions: dict[int, datetime | None] = {}
    for root_id in dict.fromkeys(root_ids):
        query = select(func.max(Object.changed_at)).where(Object.root_id == root_id)
        versions[root_id] = await session.scalar(query)
    return versions


async def count_children(session: AsyncSession, parent_id: int) -> int:
    """How many direct replies (any visibility) a post has: the pages of its replies are counted in these."""
    return int(await session.scalar(select(func.count(Object.id)).where(Object.parent_id == parent_id)) or 0)


async def position_among_siblings(session: AsyncSession, comment: Object) -> int:
    """How many direct replies to ``comment``'s parent came before it (0 for the first)."""
    query = select(func.count(Object.id)).where(Object.parent_id == comment.parent_id, Object.id < comment.id)
    return int(await session.scalar(query) or 0)


async def list_children_page(session: AsyncSession, parent_id: int, *, limit: int, offset: int) -> list[Object]:
    """Direct replies to one post (any visibility, deleted ones too), in the order received, one page of them.

    The page's ids come from the index alone (``ix_objects_parent_order``), so an
    offset skips index entries, not rows; only the page's rows are then read.
    """
    ids = (await session.scalars(
        select(Object.id).where(Object.parent_id == parent_id).order_by(Object.id).limit(limit).offset(offset)
    )).all()
    rows = await list_objects(session, ids)
    return [rows[i] for i in ids if i in rows]


async def list_first_children(
    session: AsyncSession, parent_ids: Sequence[int], *, per_parent: int,
) -> list[tuple[int, int]]:
    """(id, parent_id) of the first ``per_parent`` + 1 replies to each of ``parent_ids``, in the order received.

    One statement of per-parent branches, each reading at most ``per_parent`` + 1
    index entries (``ix_objects_parent_order``): a post with 50,000 replies costs
    what a post with 11 does.  The extra one tells the caller that more exist.
    """
    if not parent_ids:
        return []
    # Written as text: building this many SQLAlchemy sub-selects cost more than running them.
    # Each branch is its own subquery so its ORDER BY and LIMIT apply to it alone (SQLite and PostgreSQL).
    branch = "SELECT id, parent_id FROM (SELECT id, parent_id FROM objects WHERE parent_id = :p{0} ORDER BY id LIMIT :n) AS b{0}"
    statement = text(" UNION ALL ".join(branch.format(i) for i in range(len(parent_ids))))
    values = {f"p{i}": parent for i, parent in enumerate(parent_ids)}
    rows = (await session.execute(statement, {**values, "n": per_parent + 1})).all()
    return [(row[0], row[1]) for row in rows]


async def list_objects(session: AsyncSession, ids: Sequence[int]) -> dict[int, Object]:
    """The rows with these ids (with their authors), by id."""
    if not ids:
        return {}
    return {o.id: o for o in (await session.scalars(select(Object).where(Object.id.in_(list(ids))))).all()}


@dataclass
class Replies:
    """What ``walk_replies`` read below a page's direct replies, and what it left out."""

    nodes: dict[int, Object]  # every comment read, the direct replies included, by id
    children: dict[int, list[int]] = field(default_factory=dict)  # parent -> its replies read, in the order received
    more: dict[int, bool] = field(default_factory=dict)  # parent -> whether replies were left out
    unexplored: set[int] = field(default_factory=set)  # comments whose replies were never asked for

    def more_of(self, comment: Object) -> int:
        """How many of ``comment``'s replies are not read here (0: none): a "continue this thread" count."""
        shown_here = sum(1 for kid in self.children.get(comment.id, ()) if is_shown(self.nodes[kid]))
        if self.more.get(comment.id):
            return max(1, (comment.replies_count or 0) - shown_here)
        if comment.id in self.unexplored:  # budget or depth ran out above it: replies_count says
            return max(0, (comment.replies_count or 0) - shown_here)
        return 0


async def walk_replies(session: AsyncSession, tops: Sequence[Object], *, budget: int, per_parent: int,
                       max_depth: int) -> Replies:
    """The replies below ``tops``, breadth first: at most ``budget`` comments, ``per_parent`` under one, ``max_depth`` levels.

    Within a level every comment's first reply comes before any comment's second, so
    one busy branch does not crowd out the others.  Each level is one
    ``list_first_children`` and one ``list_objects``: the cost is bounded by the
    budget, not by the size of the thread.  The discussion pages (``node.web.discussion``)
    and the read API (``node.api.thread_json``) both read a page this way.
    """
    walk = Replies({c.id: c for c in tops})
    frontier, depth = [c.id for c in tops], 1
    while frontier and budget > 0 and depth <= max_depth:
        pairs = await list_first_children(session, frontier, per_parent=per_parent)
        by_parent: dict[int, list[int]] = {}
        for child_id, parent in sorted(pairs):
            by_parent.setdefault(parent, []).append(child_id)
        ranked = []
        for parent, kids in by_parent.items():
            walk.more[parent] = len(kids) > per_parent
            ranked += [(rank, child_id, parent) for rank, child_id in enumerate(kids[:per_parent])]
        ranked.sort()  # every comment's first reply before any comment's second
        chosen, left_out = ranked[:budget], ranked[budget:]
        for _, _, parent in left_out:
            walk.more[parent] = True
        loaded = await list_objects(session, [child_id for _, child_id, _ in chosen])
        for _, child_id, parent in sorted(chosen, key=lambda item: item[1]):
            if child_id in loaded:
                walk.nodes[child_id] = loaded[child_id]
                walk.children.setdefault(parent, []).append(child_id)
        for parent in frontier:  # every comment asked about has its answer; False: nothing left out
            walk.more.setdefault(parent, False)
        budget -= len(chosen)
        frontier, depth = sorted(loaded), depth + 1
    walk.unexplored = set(frontier)
    return walk


async def get_comment_in_thread(session: AsyncSession, root_id: int, comment_id: int) -> Object | None:
    """A comment of the thread under ``root_id`` by its row id, if it is shown there."""
    query = select(Object).where(Object.id == comment_id, Object.root_id == root_id, Object.kind == "comment", shown())
    return await session.scalar(query)


async def list_ancestor_ids(session: AsyncSession, comment: Object, *, limit: int) -> list[int]:
    """The ids of ``comment``'s parents up to (not including) its article, nearest first, at most ``limit``."""
    chain: list[int] = []
    parent_id, root_id = comment.parent_id, comment.root_id
    while parent_id is not None and parent_id != root_id and len(chain) < limit:
        chain.append(parent_id)
        parent_id = await session.scalar(select(Object.parent_id).where(Object.id == parent_id))
    return chain


async def count_waiting(session: AsyncSession, root: Object) -> int:
    """How many public replies are parked for this thread (``queries.list_pending_for_thread``).

    Only the article's own contexts are matched, not those its comments carry:
    those would mean reading the whole thread for every page.
    """
    from node.db.queries import list_pending_for_thread
    from node.federation.comments import visibility_of  # the visibility rule of stored comments

    waiting = await list_pending_for_thread(session, root, ())
    return sum(1 for row in waiting if isinstance(row.raw, dict) and visibility_of(row.raw) in SHOWN_VISIBILITIES)
