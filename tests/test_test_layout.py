"""Test modules import helpers from helper modules, never from each other (issue 10).

A helper two test modules share lives in a helper module (``support.py``, ``factories.py``,
``payloads.py``, ``members_support.py`` or ``<area>_support.py`` in tests/, ``fednode_support.py``
in tests/interop/), so running, moving or deleting one test module never changes another.  The
rule, checked on the syntax tree of every Python file in tests/ and tests/interop/ (test and helper
modules alike): no ``from tests.test_x import``, ``import tests.test_x``, ``from tests import test_x``,
nor the same of ``tests.interop``, nor a relative ``from .test_x import`` or ``from . import test_x``.
Every such import has been moved; there is no list of exceptions any more.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGES = {TESTS: "tests", TESTS / "interop": "tests.interop"}  # the folders the rule covers


def is_test_module(name: str) -> bool:
    """Whether a dotted module name is a test module of tests/ or tests/interop/ (``tests.test_x``)."""
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] == "tests" and parts[-1].startswith("test_")


def absolute(node: ast.ImportFrom, package: str) -> str:
    """The dotted module a ``from ... import`` reads from, relative imports resolved against ``package``."""
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[:len(parts) - node.level + 1]  # level 1 is the package itself, 2 its parent
    return ".".join(base + ([node.module] if node.module else []))


def imported_test_modules(path: Path, package: str) -> set[str]:
    """The test modules that the file (a module of ``package``) imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if is_test_module(alias.name)}
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node, package)
            if is_test_module(module):
                found.add(module)
            elif module in PACKAGES.values():
                found |= {f"{module}.{alias.name}" for alias in node.names if alias.name.startswith("test_")}
    return found


def importers() -> dict[str, set[str]]:
    """Each Python file of tests/ and tests/interop/ that imports a test module, with the modules it imports."""
    result = {}
    for folder, package in PACKAGES.items():
        for path in sorted(folder.glob("*.py")):
            found = imported_test_modules(path, package)
            if found:
                result[path.relative_to(TESTS.parent).as_posix()] = found
    return result


def test_no_test_module_imports_another():
    offenders = {path: sorted(found) for path, found in importers().items()}
    assert offenders == {}, "move the shared helpers into a helper module of tests/ and import them from there"


def test_the_rule_reads_both_folders():
    """The scan sees the files of tests/interop/ as well as those of tests/ (a folder it missed would pass)."""
    scanned = {path.relative_to(TESTS.parent).as_posix() for folder in PACKAGES for path in folder.glob("*.py")}
    assert {"tests/test_test_layout.py", "tests/interop/test_fedify_vs_fednode.py",
            "tests/interop/fednode_support.py"} <= scanned


def test_each_import_form_of_a_test_module_is_seen(tmp_path):
    """``from tests.test_x import``, ``import tests.test_x`` and ``from tests import test_x`` all count,
    of tests/ and of tests/interop/, absolute or relative; helpers don't."""
    module = tmp_path / "test_example.py"
    module.write_text("from tests.test_cli import fednode\nimport tests.test_follows\n"
                      "from tests import test_sign_in, payloads\nfrom tests.support import wait_for\n"
                      "def f():\n    from tests.test_embed import reply\n", encoding="utf-8")
    assert imported_test_modules(module, "tests") == {"tests.test_cli", "tests.test_follows", "tests.test_sign_in",
                                                      "tests.test_embed"}
    interop = tmp_path / "test_interop_example.py"
    interop.write_text("from tests.interop.test_fedify_vs_fednode import peer_view\nimport tests.interop.test_a\n"
                       "from tests.interop import test_b, fedify\nfrom .test_c import x\nfrom . import test_d, bovine\n"
                       "from ..test_e import y\nfrom .. import test_f\nfrom .fednode_support import publish\n"
                       "from tests.interop.fednode_support import page_of\n", encoding="utf-8")
    assert imported_test_modules(interop, "tests.interop") == {
        "tests.interop.test_fedify_vs_fednode", "tests.interop.test_a", "tests.interop.test_b",
        "tests.interop.test_c", "tests.interop.test_d", "tests.test_e", "tests.test_f"}
