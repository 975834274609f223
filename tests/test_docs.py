"""The documentation keeps up with the code: a section per setting and per subcommand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import node.commands  # noqa: F401  (registers every subcommand in node.cli.COMMANDS)
from node.cli import COMMANDS
from node.config import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def headings(name: str) -> list[str]:
    """The level-2 headings (``## ...``) of a file in docs/, in order."""
    text = (DOCS / name).read_text(encoding="utf-8")
    return [match.strip() for match in re.findall(r"^## (.+)$", text, flags=re.MULTILINE)]


def section(name: str, heading: str) -> str:
    """The text under ``## heading`` in a docs file, up to the next level-2 heading."""
    text = (DOCS / name).read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_has_a_section(setting):
    """docs/configuration.md has a ``## <name>`` section for each setting in node.config.SETTINGS."""
    # Given the settings table
    # When the configuration docs are read
    found = headings("configuration.md")
    # Then the setting has its own heading
    assert setting.name in found


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_setting_sections_name_env_var_flag_and_default(setting):
    """Each setting's section gives its environment variable, its flag and its type."""
    # Given a setting's section
    text = section("configuration.md", setting.name)
    # When it is read
    # Then it says how to set it everywhere
    assert f"`{setting.env_var}`" in text
    assert f"`{setting.flag}`" in text
    assert f"`{setting.type.__name__}`" in text


def test_no_section_for_a_setting_that_does_not_exist():
    """Every ``## name`` that looks like a setting in docs/configuration.md is a real setting."""
    # Given the configuration docs
    names = {s.name for s in SETTINGS}
    # When the headings that are setting-like identifiers are collected
    documented = [h for h in headings("configuration.md") if re.fullmatch(r"[a-z][a-z0-9_]*", h)]
    # Then each names a setting, once
    assert sorted(documented) == sorted(names)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_a_section(name):
    """docs/cli.md has a ``## fednode <command>`` section for each registered subcommand."""
    # Given the registered subcommands
    # When the CLI docs are read
    found = headings("cli.md")
    # Then each has its heading
    assert f"fednode {name}" in found


def test_no_section_for_a_subcommand_that_does_not_exist():
    """Every ``## fednode ...`` heading in docs/cli.md is a registered subcommand."""
    # Given the CLI docs
    # When the command headings are collected
    documented = [h.removeprefix("fednode ") for h in headings("cli.md") if h.startswith("fednode ")]
    # Then each is a registered subcommand, once
    assert sorted(documented) == sorted(COMMANDS)


def test_cli_docs_say_python_m_node_works_the_same():
    """docs/cli.md tells readers that ``python -m node`` is the same program."""
    # Given the CLI docs
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    # When they are read
    # Then python -m node is mentioned
    assert "python -m node" in text


def test_ci_runs_the_readme_test_command():
    """The last line of .ci/run is README.md's second command (the test command), byte for byte."""
    # Given README.md's shell blocks and the CI script
    root = DOCS.parent
    blocks = re.findall(r"```sh\n(.*?)\n```", (root / "README.md").read_text(encoding="utf-8"), flags=re.DOTALL)
    last_line = (root / ".ci" / "run").read_text(encoding="utf-8").rstrip("\n").splitlines()[-1]
    # When the test command is compared with what CI runs
    # Then they are the same, so CI runs exactly what a reader runs
    assert blocks[1] == last_line
    assert "interop/setup" in last_line


VENV_PREFIX = "python3 -m venv .venv && . .venv/bin/activate && "


def readme_commands() -> list[str]:
    """README.md's ``sh`` blocks: the install-and-run command, then the install-and-test command."""
    root = DOCS.parent
    return re.findall(r"```sh\n(.*?)\n```", (root / "README.md").read_text(encoding="utf-8"), flags=re.DOTALL)[:2]


@pytest.mark.parametrize("which", [0, 1], ids=["run", "test"])
def test_readme_commands_install_into_a_virtual_environment(which):
    """Both README commands make and activate .venv before pip, so PEP 668 systems (Debian 12,
    Ubuntu 24.04) do not refuse them with externally-managed-environment."""
    # Given README's two commands
    command = readme_commands()[which]
    # When the first is read
    # Then it starts by making and activating the virtual environment, and installs with its pip
    assert command.startswith(VENV_PREFIX)
    assert "python3 -m pip" not in command and " pip install -e " in command


def test_readme_virtual_environment_prefix_really_activates(tmp_path):
    """The shell prefix README's commands share creates a venv whose python is the one then on PATH."""
    import subprocess

    # Given an empty folder
    # When README's venv prefix runs in bash, followed by asking which python runs
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", VENV_PREFIX + 'python -c "import sys; print(sys.prefix)"'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # Then it succeeded and the python on PATH is the new environment's
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / ".venv")
