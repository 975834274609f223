"""The project stands alone: code and docs cite specs, FEPs and peers' sources, never files outside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("PROTOCOL.md", "/work/shared", "../shared/")


def test_nothing_in_node_or_docs_cites_a_file_outside_the_repository():
    found = [f"{path.relative_to(ROOT)}: {needle}"
             for folder in ("node", "docs") for path in sorted((ROOT / folder).rglob("*"))
             if path.is_file() and path.suffix in (".py", ".md", ".html", ".txt")
             for needle in OUTSIDE if needle in path.read_text(encoding="utf-8", errors="replace")]
    assert found == []
