"""docs/architecture.md names only what exists, and names every module of the package (issue 10).

What a reader of the architecture page follows must be there: every path it names (``node/...``,
the short ``web/inbox.py`` forms of the pipelines, and a bare ``queue.py`` in a module-map row,
read in the folder the row names before it), every ``module.function`` it names, every quoted
identifier (settings, functions, columns, indexes), every model and every runtime dependency.
And every module under ``node/`` has its place on the page, so a new module is described when it
is added.  The checks read the page and the source as text and syntax trees: nothing is imported
but the command table.
"""

from __future__ import annotations

import ast
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

import node.commands  # noqa: F401  (registers every subcommand in node.cli.COMMANDS)
from node.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "node"
# Named on the page but made by a running node, not kept in the repository.
MADE_AT_RUN_TIME = {"keys/"}
# Files of the package that are not modules of their own: migration versions (one per schema change,
# described together by ``node/db/migrations/``) and package markers.
NOT_MODULES = ("__init__.py",)


def page() -> str:
    return DOC.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    """The fenced blocks (the pipeline diagrams)."""
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)


def quoted(text: str) -> list[str]:
    """Everything the page puts in backticks, outside the fenced blocks."""
    return re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))


def is_path(token: str) -> bool:
    """A repository path as the page writes one: ``node/web/``, ``web/inbox.py``, ``httpsig*.py``, ``queue.py``.

    URL paths (``/embed.js``, ``/api/v1/``) start with a slash and are not files of ours."""
    return (not token.startswith("/") and re.fullmatch(r"[\w.*-]+(/[\w.*-]*)*", token) is not None
            and ("/" in token or token.endswith(".py")) and not re.search(r"\.[a-z_]\w*$", token.removesuffix(".py")))


def matches(token: str, folders: list[Path]) -> list[Path]:
    """The files or folders ``token`` names: from the repository root or ``node/``, or in one of ``folders``
    (first, for a bare file name: a row's ``threads.py`` under ``node/federation/handlers/`` is that one)."""
    bases = (ROOT, PACKAGE, *folders) if "/" in token else (*folders, ROOT, PACKAGE)
    for base in bases:
        found = sorted(base.glob(token.rstrip("/"))) if "*" in token else (
            [base / token.rstrip("/")] if (base / token.rstrip("/")).exists() else [])
        if found:
            return found
    return []


def named_paths(text: str) -> tuple[set[Path], list[str]]:
    """The repository paths the page names, and the path-like tokens that name nothing.

    In a row of the module map a bare file name is read in the folders the row named before it
    (``node/moderation/``, then ``policy.py``); elsewhere only tokens with a slash are paths."""
    found: set[Path] = set()
    missing: list[str] = []
    for line in re.sub(r"```.*?```", "", text, flags=re.DOTALL).splitlines():
        in_row = line.startswith("|")
        folders: list[Path] = []
        for token in re.findall(r"`([^`\n]+)`", line):
            if not is_path(token) or (not in_row and "/" not in token) or token in MADE_AT_RUN_TIME:
                continue
            hits = matches(token, folders)
            if not hits:
                missing.append(token)
                continue
            found.update(hits)
            folders.insert(0, hits[0] if hits[0].is_dir() else hits[0].parent)
    for block in code_blocks(text):
        for token in re.findall(r"[\w/]+\.py\b", block):
            hits = matches(token, [])
            found.update(hits) if hits else missing.append(token)
    return found, missing


@lru_cache(maxsize=None)
def top_level_names(path: Path) -> frozenset[str]:
    """What a module defines or imports at its top level (functions, classes, constants, imported names)."""
    names: set[str] = set()
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names |= {target.id for target in statement.targets if isinstance(target, ast.Name)}
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    return frozenset(names)


def modules() -> list[Path]:
    """Every module of the package, migration versions left out."""
    return sorted(path for path in PACKAGE.rglob("*.py")
                  if path.name not in NOT_MODULES and "versions" not in path.relative_to(PACKAGE).parts)


def modules_named(stem: str, folder: str | None) -> list[Path]:
    """The modules a dotted name's first part can mean: ``comments`` (any), ``db/crawl`` (that one), a package."""
    if folder is not None:
        candidates = [PACKAGE / folder / f"{stem}.py", PACKAGE / folder / stem / "__init__.py"]
        return [path for path in candidates if path.exists()]
    return ([path for path in PACKAGE.rglob(f"{stem}.py")]
            + [path / "__init__.py" for path in PACKAGE.rglob(stem) if (path / "__init__.py").exists()])


def dotted_names(text: str) -> list[tuple[str | None, str, str, str]]:
    """(folder, module, attribute, as written) for every ``module.attribute`` the page names."""
    found = []
    tokens = quoted(text) + [m.group(0) for block in code_blocks(text)
                             for m in re.finditer(r"\b[a-z_]\w*\.[A-Za-z_]\w*\b", block)]
    for token in tokens:
        match = re.fullmatch(r"(?:((?:\w+/)*\w+)/)?([a-z_]\w*)\.([A-Za-z_]\w*)(?:\(\))?", token)
        if match and match.group(3) != "py":
            found.append((match.group(1), match.group(2), match.group(3), token))
    return found


def test_every_path_the_page_names_exists():
    """A path on the page (``node/...``, ``web/inbox.py``, a module-map row's ``queue.py``) is in the repository."""
    # Given the architecture page
    # When the paths it names are looked up
    _, missing = named_paths(page())
    # Then each is a file or folder of the repository
    assert missing == []


def test_every_module_of_the_package_is_on_the_page():
    """Each module under node/ is named on the page (module map, pipelines or a row's list of files)."""
    # Given the page's paths, folders included only as folders
    found, _ = named_paths(page())
    # When the package's modules are compared with them
    unnamed = [str(path.relative_to(ROOT)) for path in modules() if path not in found]
    # Then none is left out
    assert unnamed == [], "describe these modules in docs/architecture.md's module map"


def test_every_module_function_the_page_names_is_defined_there():
    """``comments.store_comments``, ``db/activities.claim_activities``…: the module defines the name."""
    # Given the page's dotted names whose first part is a module of the package
    checked, wrong = 0, []
    for folder, module, attribute, token in dotted_names(page()):
        candidates = modules_named(module, folder)
        if not candidates:
            continue  # not a module (``Node.start_background``, ``Fetcher.post_plain``)
        checked += 1
        # When the modules it may mean are read
        if not any(attribute in top_level_names(path) for path in candidates):
            wrong.append(token)
    # Then each names something that module defines (and the page does name some)
    assert checked >= 10
    assert wrong == []


def test_every_quoted_identifier_is_in_the_code():
    """A setting, function, column or index the page quotes (``delivery_per_host``, ``walk_replies``) exists."""
    # Given every identifier of the package's source
    source = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))
    known = set(re.findall(r"\w+", source))
    # When the page's quoted identifiers (and the parts of its dotted names) are looked up
    quoted_names = [part for token in quoted(page()) if re.fullmatch(r"\w+(\.\w+)*(\(\))?", token)
                    for part in token.removesuffix("()").split(".")]
    # Then each is in the code
    assert sorted({name for name in quoted_names if name not in known and not name.isdigit()}) == []


@pytest.mark.parametrize("model", sorted(
    statement.name for statement in ast.parse((PACKAGE / "db" / "models.py").read_text(encoding="utf-8")).body
    if isinstance(statement, ast.ClassDef) and any(getattr(base, "id", None) == "Base" for base in statement.bases)))
def test_every_model_is_in_the_module_map(model):
    """The models row lists every table's model."""
    # Given a model of node/db/models.py
    # When the page is read
    # Then it names the model
    assert f"`{model}`" in page()


def dependency_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.parametrize("requirement", tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                         ["project"]["dependencies"], ids=dependency_name)
def test_every_runtime_dependency_says_why(requirement):
    """The libraries table has a row for each runtime dependency in pyproject.toml."""
    # Given a dependency
    name = dependency_name(requirement)
    # When the libraries table's first column is read
    section = page().split("## Libraries, and why", 1)[1]
    listed = {cell.strip().lower() for row in re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE)
              for cell in re.split(r",|\(", row)}
    # Then the dependency is one of them
    assert name in {entry.split(" ")[0].replace("_", "-") for entry in listed}


def test_the_libraries_table_is_one_table():
    """No blank line splits the libraries table (a Markdown table ends at the first blank line)."""
    # Given the libraries section
    section = page().split("## Libraries, and why", 1)[1].strip()
    # When its lines are read
    lines = section.splitlines()
    # Then every line is a row of the one table
    assert all(line.startswith("|") for line in lines)


def test_every_command_the_processes_table_names_exists():
    """Each ``fednode …`` in the "Processes" section is a registered subcommand."""
    # Given the Processes section
    section = page().split("## Processes", 1)[1].split("\n## ", 1)[0]
    # When its commands are read
    named = re.findall(r"`fednode ([a-z-]+)", section)
    # Then each is registered
    assert named and all(any(command.split(" ")[0] == name for command in COMMANDS) for name in named)


def test_the_checks_see_paths_in_rows_and_diagrams():
    """The reading of the page itself: a bare name in a row is read in the row's folder, a diagram's path too."""
    # Given a page with a row naming a folder and two of its files (one named like a module of node/),
    # a diagram, and a wrong path
    text = ("| `node/web/admin/`, `queue.py`, `site.py` | pages |\n\n```\nPOST ─▶ web/inbox.py\n```\n\n"
            "See `federation/nothing.py` and `/embed.js`.\n")
    # When its paths are read
    found, missing = named_paths(text)
    # Then the row's file and the diagram's path are found, the wrong one is reported, URLs are not paths
    assert {PACKAGE / "web" / "admin" / "queue.py", PACKAGE / "web" / "admin" / "site.py",
            PACKAGE / "web" / "inbox.py"} <= found and PACKAGE / "site.py" not in found
    assert missing == ["federation/nothing.py"]
