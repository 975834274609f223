"""SQL is built in node/db/ only: the rest of the node calls named queries.

The rule, checked on the syntax tree of every module outside node/db/: it does not
import SQLAlchemy's statement builders (``select``, ``insert``, ``update``,
``delete``, ``text`` and the expression helpers that only make sense inside them)
nor call them as ``sqlalchemy.select(...)``.  ``ALLOWED`` listed the modules that
still did while they were moved into modules of node/db/ per area; it is empty now
and may never grow: a module on it that no longer builds SQL fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

NODE = Path(__file__).resolve().parents[1] / "node"
BUILDERS = frozenset({"select", "insert", "update", "delete", "text", "bindparam", "case", "literal", "func",
                      "and_", "or_", "exists", "union", "union_all"})

# Modules outside node/db/ that still build SQL: none left (keep it empty; never grow it).
ALLOWED: frozenset[str] = frozenset()


def builds_sql(path: Path) -> set[str]:
    """The SQL builders a module imports from SQLAlchemy or calls through the ``sqlalchemy`` module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found |= {alias.name for alias in node.names if alias.name in BUILDERS}
        elif (isinstance(node, ast.Attribute) and node.attr in BUILDERS and isinstance(node.value, ast.Name)
              and node.value.id in ("sqlalchemy", "sa")):
            found.add(node.attr)
    return found


def modules_outside_db() -> dict[str, set[str]]:
    result = {}
    for path in sorted(NODE.rglob("*.py")):
        relative = path.relative_to(NODE.parent).as_posix()
        if relative.startswith("node/db/"):
            continue
        used = builds_sql(path)
        if used:
            result[relative] = used
    return result


def test_no_module_outside_node_db_builds_sql_unless_still_listed():
    offenders = {path: sorted(used) for path, used in modules_outside_db().items() if path not in ALLOWED}
    assert offenders == {}, "build SQL in node/db/ (a module per area) and call it by name"


def test_the_allow_list_only_names_modules_that_still_build_sql():
    stale = sorted(ALLOWED - set(modules_outside_db()))
    assert stale == [], "these modules no longer build SQL: take them off ALLOWED"


def test_the_rule_sees_both_spellings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy\nfrom sqlalchemy import select as s\nq = sqlalchemy.update(t)\n")
    assert builds_sql(sample) == {"select", "update"}
