"""Helpers for tests of several processes: the children of a process.

``fednode serve --workers N`` forks N children and replaces one that dies; the tests find them in
/proc (Linux only) and poll (``tests.support.wait_for``) until the set of children, or what they
deliver, is as expected.
"""

from __future__ import annotations

from pathlib import Path


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc; Linux only)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found
