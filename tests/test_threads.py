"""node.threads.flatten: a discussion becomes numbered, nested rows in reading order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from node.threads import MAX_INDENT, flatten

ROOT = "https://node.test/articles/a"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Comment:
    """Just the fields flatten reads."""

    id: int
    ap_id: str
    in_reply_to: str | None
    published: datetime
    actor: str = field(default="someone")


def thread(*edges: tuple[str, str | None, int]) -> list[Comment]:
    """Comments named by short keys: (key, parent key or None for the article, minutes after START)."""
    def ap_id(key: str | None) -> str:
        return ROOT if key is None else f"https://node.test/comments/{key}"

    return [
        Comment(id=n, ap_id=ap_id(key), in_reply_to=ap_id(parent), published=START + timedelta(minutes=minutes))
        for n, (key, parent, minutes) in enumerate(edges, 1)
    ]


def shape(rows) -> list[tuple[str, str, int]]:
    """(comment key, number, depth) of each row."""
    return [(row.comment.ap_id.rsplit("/", 1)[-1], row.number, row.depth) for row in rows]


def test_empty_thread_has_no_rows():
    """An article without comments has no rows."""
    # Given no comments
    # When they are flattened
    # Then there is nothing to show
    assert flatten([], ROOT) == []


def test_replies_follow_their_parent_depth_first():
    """Each comment comes right after its parent, before the parent's later siblings."""
    # Given two top-level comments, the first with a reply that has a reply
    comments = thread(("a", None, 1), ("b", None, 2), ("a1", "a", 3), ("a11", "a1", 4))
    # When they are flattened
    rows = flatten(comments, ROOT)
    # Then the first comment's subtree comes before the second comment
    assert shape(rows) == [("a", "1", 0), ("a1", "1.1", 1), ("a11", "1.1.1", 2), ("b", "2", 0)]


def test_siblings_are_in_the_order_received_whatever_their_dates_or_the_input_order():
    """Siblings are ordered by when we received them (row id), not by the sender's ``published`` (issue 16.13)."""
    # Given comments received a, a1, b, a2, where b and a2 claim to be older than everything (a wrong clock)
    comments = thread(("a", None, 10), ("a1", "a", 40), ("b", None, -999_999), ("a2", "a", -60))
    # When they are flattened, given newest first
    rows = flatten(list(reversed(comments)), ROOT)
    # Then they read in the order received at every level
    assert shape(rows) == [("a", "1", 0), ("a1", "1.1", 1), ("a2", "1.2", 1), ("b", "2", 0)]


def test_equal_times_are_ordered_by_id():
    """Comments published at the same moment keep a stable order (by row id)."""
    # Given two comments with the same timestamp
    comments = thread(("first", None, 5), ("second", None, 5))
    # When they are flattened, in either input order
    forward = shape(flatten(comments, ROOT))
    backward = shape(flatten(list(reversed(comments)), ROOT))
    # Then the lower id comes first both times
    assert forward == backward == [("first", "1", 0), ("second", "2", 0)]


def test_numbers_describe_the_path():
    """Numbers are 1, 1.1, 1.1.1... following each comment's place among its siblings."""
    # Given a thread four levels deep with a second branch
    comments = thread(("a", None, 1), ("b", "a", 2), ("c", "b", 3), ("d", "c", 4), ("e", "a", 5), ("f", None, 6))
    # When it is flattened
    rows = flatten(comments, ROOT)
    # Then each number is the path from the article
    assert [row.number for row in rows] == ["1", "1.1", "1.1.1", "1.1.1.1", "1.2", "2"]


@pytest.mark.parametrize("max_indent", [1, 3, MAX_INDENT])
def test_indent_stops_at_the_cap_and_names_the_parent(max_indent):
    """Below the indent cap rows stop moving right and say which comment they answer instead."""
    # Given a chain of replies deeper than the cap
    depth = max_indent + 3
    comments = thread(*[(f"c{n}", f"c{n - 1}" if n else None, n) for n in range(depth)])
    # When it is flattened
    rows = flatten(comments, ROOT, max_indent=max_indent)
    # Then indent is capped, and only rows past the cap name their parent's number
    assert [row.depth for row in rows] == list(range(depth))
    assert [row.indent for row in rows] == [min(n, max_indent) for n in range(depth)]
    for parent, row in zip(rows, rows[1:]):
        expected = parent.number if row.depth > max_indent else None
        assert row.in_reply_to_number == expected


def test_orphans_are_shown_at_the_top_level_and_marked():
    """A comment whose parent is not here is shown at the top level, marked orphan, with its replies under it."""
    # Given a reply to a comment we never received, and a reply to that reply
    comments = thread(("a", None, 1), ("lost-child", "missing", 2), ("grandchild", "lost-child", 3))
    # When they are flattened
    rows = flatten(comments, ROOT)
    # Then the orphan is a numbered top-level row and its reply stays under it
    assert shape(rows) == [("a", "1", 0), ("lost-child", "2", 0), ("grandchild", "2.1", 1)]
    assert [row.orphan for row in rows] == [False, True, False]


def test_cycle_terminates_and_shows_every_comment_once():
    """Comments that reply to each other in a loop (forged data) end the walk and each appear once."""
    # Given a normal comment and three comments forming a cycle a -> b -> c -> a
    comments = thread(("ok", None, 1), ("x", "z", 2), ("y", "x", 3), ("z", "y", 4))
    # When they are flattened
    rows = flatten(comments, ROOT)
    # Then every comment is shown exactly once; the cut-off ones as orphans
    assert sorted(key for key, _, _ in shape(rows)) == ["ok", "x", "y", "z"]
    assert rows[0].comment.ap_id.endswith("/ok") and not rows[0].orphan
    assert all(row.orphan for row in rows[1:])
    assert len({row.number for row in rows}) == len(rows)


def test_self_reply_terminates():
    """A comment that replies to itself is shown once, as an orphan."""
    # Given a comment whose in_reply_to is its own id
    comment = Comment(id=1, ap_id="https://node.test/comments/me", in_reply_to="https://node.test/comments/me", published=START)
    # When it is flattened
    rows = flatten([comment], ROOT)
    # Then it is one orphan row
    assert [(row.number, row.orphan) for row in rows] == [("1", True)]


def test_rows_carry_comment_and_author():
    """Each row holds its comment and that comment's author for the template."""
    # Given a comment by alice
    comment = Comment(id=1, ap_id="https://node.test/comments/1", in_reply_to=ROOT, published=START, actor="alice")
    # When it is flattened
    (row,) = flatten([comment], ROOT)
    # Then the row points at both
    assert (row.comment, row.author) == (comment, "alice")


def test_very_deep_thread_does_not_recurse():
    """A chain of 5000 replies flattens without hitting Python's recursion limit."""
    # Given a 5000-deep chain
    comments = thread(*[(f"c{n}", f"c{n - 1}" if n else None, n) for n in range(5000)])
    # When it is flattened
    rows = flatten(comments, ROOT)
    # Then every comment is there at its depth
    assert len(rows) == 5000
    assert rows[-1].depth == 4999 and rows[-1].indent == MAX_INDENT
