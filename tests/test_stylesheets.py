"""The stylesheets we serve are well-formed: every block opened is closed where it should be.

A brace left open by a merge is not an error to a browser: it silently moves every rule after it
into the enclosing block (once, every desktop rule for members' pages applied only on phones).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "node" / "web" / "static"
STYLESHEETS = sorted(STATIC.glob("*.css"))
COMMENT = re.compile(r"/\*.*?\*/", re.S)
STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")


def depths(css: str) -> list[int]:
    """The nesting depth after every brace of ``css`` (comments and strings ignored)."""
    text = STRING.sub('""', COMMENT.sub("", css))
    depth, seen = 0, []
    for char in text:
        if char in "{}":
            depth += 1 if char == "{" else -1
            seen.append(depth)
    return seen


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_every_block_of_a_stylesheet_is_closed(path):
    """Braces balance and never close more than they opened."""
    seen = depths(path.read_text())
    assert seen and min(seen) >= 0 and seen[-1] == 0


@pytest.mark.parametrize("path", STYLESHEETS, ids=lambda p: p.name)
def test_no_rule_nests_deeper_than_a_media_query(path):
    """Plain CSS here has rules (depth 1) inside at most one @media or @supports (depth 2)."""
    assert max(depths(path.read_text())) <= 2


def test_a_block_left_open_is_caught():
    """The check sees the mistake it exists for: an @media block that a merge left open."""
    broken = "@media (max-width: 30rem) {\n  .a { color: red; }\n.b { color: blue; }\n"
    assert depths(broken)[-1] != 0
