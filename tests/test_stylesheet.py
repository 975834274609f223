"""The one stylesheet stays well formed: several people add to it, and merges have left a block open.

An unclosed ``@media`` block does not fail loudly: every rule after it silently applies only on
phones.  So the braces must balance, and no block may open inside a plain rule.
"""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[1] / "node" / "web" / "static" / "site.css"


def test_every_block_of_the_stylesheet_is_closed_where_it_should_be():
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    depth, opened_by = 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            if ch == "{":
                # Only an at-rule (@media, @supports) may hold rules inside it.
                assert depth == 0 or opened_by[-1].lstrip().startswith("@"), f"line {number}: a rule inside a rule"
                opened_by.append(line)
                depth += 1
            elif ch == "}":
                assert depth > 0, f"line {number}: a '}}' closes nothing"
                depth -= 1
                opened_by.pop()
    assert depth == 0, f"unclosed block opened by: {opened_by[-1].strip()[:80]}"
