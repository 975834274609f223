"""How the command line behaves as a tool: short per-command help, quiet exit on a closed pipe,
UTC times, and a question before deleting."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from node.config import SETTINGS_BY_NAME, USERNAME_RE
from tests.cli_support import BASE_URL, POST, clean_env, fednode, initialized, rows, site, write  # noqa: F401 (fixtures)


# --- help -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, own_options", [
    (["publish"], ["--author", "--update"]),
    (["serve"], ["--demo", "--force"]),
    (["delete"], ["--yes"]),
    (["deliveries", "retry"], ["ids"]),
])
def test_command_help_shows_its_own_options_and_a_description(tmp_path, argv, own_options):
    """`fednode COMMAND --help` is about the command: a description, its options, not twenty settings."""
    # Given a command
    # When its help is asked for
    result = fednode(tmp_path, *argv, "--help")
    # Then it describes the command and its options, and only points at the settings
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"usage: fednode {' '.join(argv)} [-h]")
    description = result.stdout.split("\n\n")[1]  # after the usage lines
    assert description[0].isupper() and description.endswith(".") and not description.startswith("positional")
    for option in own_options:
        assert option in result.stdout
    assert "--delivery-concurrency" not in result.stdout
    assert "`fednode --help` lists them all" in " ".join(result.stdout.split())
    assert len(lines) < 30


def test_setting_flags_still_work_after_a_command_whose_help_hides_them(tmp_path):
    """Hidden from `COMMAND --help`, a setting flag is still accepted after the command."""
    result = fednode(tmp_path, "check-config", "--listen-port", "99999")
    assert result.returncode == 1
    assert "listen_port: 99999 is not a TCP port" in result.stderr


def test_top_level_help_lists_every_setting_flag(tmp_path):
    """`fednode --help` is where the settings' flags are listed."""
    result = fednode(tmp_path, "--help")
    assert result.returncode == 0
    for setting in SETTINGS_BY_NAME.values():
        assert setting.flag in result.stdout


def test_site_username_help_example_is_a_valid_username():
    """The example in --site-username's help is a value the setting accepts (it was a whole handle)."""
    example = re.search(r"e\.g\. (\S+)", SETTINGS_BY_NAME["site_username"].help).group(1)
    assert USERNAME_RE.match(example), example


# --- pipes ----------------------------------------------------------------------------------------

def test_output_into_a_closed_pipe_ends_quietly(site):
    """`fednode articles | head -0`: the reader is gone; no BrokenPipeError traceback."""
    # Given a node with an article, and a command whose reader closes the pipe at once
    write(site, "post.md", POST)
    fednode(site, "publish", "post.md")
    process = subprocess.Popen([sys.executable, "-m", "node", "articles"], cwd=site, env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    # When it writes its output
    _, stderr = process.communicate(timeout=60)
    # Then it stops without a traceback, with the status of a tool stopped by SIGPIPE
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr
    assert process.returncode == 141


# --- deliveries -----------------------------------------------------------------------------------

def test_deliveries_times_say_utc(site):
    """Times in `fednode deliveries` are marked UTC, as in `fednode thread`."""
    # Given a queued delivery
    write(site, "post.md", POST)
    fednode(site, "publish", "post.md")
    with __import__("sqlite3").connect(site / "fednode.db") as db:
        db.execute("INSERT INTO deliveries (activity_ap_id, signer, inbox, host, body, status, attempts, "
                   "next_attempt_at, created_at) VALUES ('https://forum.example.org/activities/1', 'editor', "
                   "'https://remote.example/inbox', 'remote.example', '{\"type\": \"Create\"}', 'pending', 0, "
                   "'2026-11-24 10:02:11.000000', '2026-11-24 10:02:11.000000')")
    # When the ledger is shown
    result = fednode(site, "deliveries")
    # Then the time says its zone
    assert result.returncode == 0, result.stderr
    assert "next 2026-11-24 10:02:11 UTC  https://remote.example/inbox" in result.stdout


# --- delete ---------------------------------------------------------------------------------------

def published(site) -> None:
    write(site, "post.md", POST)
    assert fednode(site, "publish", "post.md").returncode == 0


def deleted(site) -> bool:
    return rows(site, "SELECT deleted_at IS NOT NULL FROM objects WHERE slug = 'hello'") == [(1,)]


def test_delete_asks_and_a_no_keeps_the_article(site):
    """`fednode delete hello` asks first; anything but y keeps the article."""
    published(site)
    result = subprocess.run([sys.executable, "-m", "node", "delete", "hello"], cwd=site, env=clean_env(),
                            input="n\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Delete 'Hello, fediverse' ({BASE_URL}/articles/hello)?" in result.stdout
    assert "not deleted" in result.stderr
    assert not deleted(site)


def test_delete_without_an_answer_keeps_the_article(site):
    """No terminal to answer (a script without --yes) is a no."""
    published(site)
    result = subprocess.run([sys.executable, "-m", "node", "delete", "hello"], cwd=site, env=clean_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pass --yes" in result.stderr
    assert not deleted(site)


def test_delete_answered_yes_deletes(site):
    """Answering y deletes the article."""
    published(site)
    result = subprocess.run([sys.executable, "-m", "node", "delete", "hello"], cwd=site, env=clean_env(),
                            input="y\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"deleted: {BASE_URL}/articles/hello" in result.stdout
    assert deleted(site)


def test_delete_with_yes_does_not_ask(site):
    """--yes deletes without a question (for scripts)."""
    published(site)
    result = fednode(site, "delete", "hello", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Delete 'Hello" not in result.stdout
    assert deleted(site)
