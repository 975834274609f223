"""Ordering a discussion for display: a flat list of comments becomes numbered, nested rows.

Pure: no database, no HTML; for ``fednode thread``, which shows a whole thread
(the web pages read one bounded page at a time: ``node.web.discussion``).
Comments are numbered like a blog's (1, 1.1, 1.1.1), siblings in the order we
received them (row id: a sender's ``published`` date cannot move a reply up);
indentation stops at ``max_indent`` and deeper rows say which comment they answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

MAX_INDENT = 5


@dataclass(frozen=True)
class ThreadRow:
    """One comment in display order."""

    comment: Any
    author: Any
    depth: int  # 0 for a direct reply to the article
    indent: int  # depth capped at MAX_INDENT
    number: str  # "1.2.1"
    in_reply_to_number: str | None  # set when the indent no longer shows the parent
    orphan: bool = False  # its parent is not (yet) here


def flatten(comments: Sequence[Any], root_ap_id: str, *, max_indent: int = MAX_INDENT) -> list[ThreadRow]:
    """Order ``comments`` (objects with ap_id, in_reply_to, id, actor) under ``root_ap_id``, as received.

    A comment whose parent is missing is shown at the top level and marked ``orphan``;
    a cycle (which only forged data can make) is broken rather than looping.
    """
    by_id = {c.ap_id: c for c in comments}
    children: dict[str, list[Any]] = {}
    tops: list[tuple[Any, bool]] = []
    for comment in comments:
        parent = comment.in_reply_to
        if parent == root_ap_id:
            tops.append((comment, False))
        elif parent in by_id and parent != comment.ap_id:
            children.setdefault(parent, []).append(comment)
        else:
            tops.append((comment, True))

    def order(items):
        return sorted(items, key=lambda c: c.id)

    rows: list[ThreadRow] = []
    seen: set[str] = set()
    tops.sort(key=lambda pair: pair[0].id)
    # An explicit stack instead of recursion: threads can be thousands deep.
    stack: list[tuple[Any, int, str, str | None, bool]] = [
        (c, 0, str(i), None, orphan) for i, (c, orphan) in reversed(list(enumerate(tops, 1)))
    ]
    while stack:
        comment, depth, number, parent_number, orphan = stack.pop()
        if comment.ap_id in seen:
            continue
        seen.add(comment.ap_id)
        indent = min(depth, max_indent)
        rows.append(ThreadRow(
            comment=comment, author=comment.actor, depth=depth, indent=indent, number=number,
            in_reply_to_number=parent_number if depth > max_indent else None, orphan=orphan,
        ))
        kids = order(children.get(comment.ap_id, []))
        for i, child in reversed(list(enumerate(kids, 1))):
            stack.append((child, depth + 1, f"{number}.{i}", number, False))
    # Whatever a cycle cut off from the root still gets shown, as orphans.
    for comment in order([c for c in comments if c.ap_id not in seen]):
        rows.append(ThreadRow(comment, comment.actor, 0, 0, str(len(tops) + 1), None, True))
        tops.append((comment, True))
    return rows


@dataclass(frozen=True)
class ThreadPage:
    """One page of a discussion: whole top-level threads, numbered as in the full discussion."""

    rows: list[ThreadRow]
    number: int  # 1-based
    count: int  # how many pages the discussion has (at least 1)
    first_thread: int  # 1-based position of the page's first top-level thread (0 when empty)
    last_thread: int
    threads: int  # top-level threads in the whole discussion


def paginate(rows: Sequence[ThreadRow], page: int, *, per_page: int) -> ThreadPage:
    """The ``page``-th group of ``per_page`` top-level threads of ``rows`` (from ``flatten``).

    Each top-level comment stays on one page with all its descendants, so a
    reply is never separated from what it answers.  A ``page`` past the end
    gives an empty page (the caller decides whether that is a 404).
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    starts = [i for i, row in enumerate(rows) if row.depth == 0]
    threads = len(starts)
    count = max(1, -(-threads // per_page))
    first = (page - 1) * per_page
    if page < 1 or first >= threads:
        return ThreadPage([], page, count, 0, 0, threads)
    last = min(first + per_page, threads)
    begin = starts[first]
    end = starts[last] if last < threads else len(rows)
    return ThreadPage(list(rows[begin:end]), page, count, first + 1, last, threads)
