"""The project stands alone: code, tests and docs cite specs, FEPs and peers' sources, never files outside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The guides this project was started from, and where they lay: none ships with the repository.
OUTSIDE = ("PROTOCOL.md", "PERFORMANCE.md", "STYLE.md", "PEERS.md", "/work/shared", "../shared/")
TEXT = {".py", ".md", ".html", ".txt", ".js", ".json", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".sh", ".css"}


def tracked_text_files() -> list[Path]:
    """Every text file git tracks (or, outside a git checkout, every such file under the top folders)."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths = [ROOT / name for name in names.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        paths = [path for folder in ("node", "docs", "tests", "bench", "interop", "extension")
                 for path in (ROOT / folder).rglob("*")] + [ROOT / "README.md", ROOT / ".ci" / "run"]
    return sorted(path for path in paths
                  if path.is_file() and (path.suffix in TEXT or path.name == "run") and path != Path(__file__).resolve())


def test_nothing_in_the_repository_cites_a_file_outside_it():
    found = [f"{path.relative_to(ROOT)}: {needle}" for path in tracked_text_files()
             for needle in OUTSIDE if needle in path.read_text(encoding="utf-8", errors="replace")]
    assert found == []


def test_the_check_reads_code_tests_docs_and_the_ci_script():
    names = {path.relative_to(ROOT).as_posix() for path in tracked_text_files()}
    assert {"README.md", ".ci/run", "node/app.py", "docs/architecture.md", "tests/conftest.py"} <= names
