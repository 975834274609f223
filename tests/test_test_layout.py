"""Test modules import helpers from helper modules, never from each other (issue 10).

A helper two test modules share lives in a helper module of tests/ (``support.py``, ``factories.py``,
``payloads.py``, ``members_support.py`` or ``<area>_support.py``), so running, moving or deleting one
test module never changes another.  The rule, checked on the syntax tree of every Python file directly
in tests/ (test and helper modules; tests/interop/ is not covered yet): no ``from tests.test_x import``,
``import tests.test_x`` or ``from tests import test_x``.
``ALLOWED`` lists the files that still do, each to have its helpers moved; it may only shrink:
a module on it that no longer imports a test module fails the test until it is taken off.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Files of tests/ that still import from a test module (shrink this list; never grow it).
ALLOWED = frozenset({
    "tests/test_admin_browser.py",
    "tests/test_admin_moderation.py",
    "tests/test_csrf.py",
    "tests/test_embed.py",
    "tests/test_embed_browser.py",
    "tests/test_feeds.py",
    "tests/test_hostile.py",
    "tests/test_member_reject.py",
    "tests/test_reader_pages.py",
    "tests/test_scale_out.py",
    "tests/test_webhooks.py",
    "tests/test_workers.py",
})


def is_test_module(name: str) -> bool:
    """Whether a dotted module name is a test module of tests/ (``tests.test_x``)."""
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] == "tests" and parts[-1].startswith("test_")


def imported_test_modules(path: Path) -> set[str]:
    """The test modules of tests/ that the file imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if is_test_module(alias.name)}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if is_test_module(node.module):
                found.add(node.module)
            elif node.module == "tests":
                found |= {f"tests.{alias.name}" for alias in node.names if alias.name.startswith("test_")}
    return found


def importers() -> dict[str, set[str]]:
    """Each Python file directly in tests/ that imports a test module, with the modules it imports."""
    result = {}
    for path in sorted(TESTS.glob("*.py")):
        found = imported_test_modules(path)
        if found:
            result[path.relative_to(TESTS.parent).as_posix()] = found
    return result


def test_no_test_module_imports_another_unless_still_listed():
    offenders = {path: sorted(found) for path, found in importers().items() if path not in ALLOWED}
    assert offenders == {}, "move the shared helpers into a helper module of tests/ and import them from there"


def test_the_allow_list_only_names_modules_that_still_import_a_test_module():
    stale = sorted(ALLOWED - set(importers()))
    assert stale == [], "these modules no longer import a test module: take them off ALLOWED"


def test_each_import_form_of_a_test_module_is_seen(tmp_path):
    """``from tests.test_x import``, ``import tests.test_x`` and ``from tests import test_x`` all count; helpers don't."""
    module = tmp_path / "test_example.py"
    module.write_text("from tests.test_cli import fednode\nimport tests.test_follows\n"
                      "from tests import test_sign_in, payloads\nfrom tests.support import wait_for\n"
                      "def f():\n    from tests.test_embed import reply\n", encoding="utf-8")
    assert imported_test_modules(module) == {"tests.test_cli", "tests.test_follows", "tests.test_sign_in",
                                             "tests.test_embed"}
