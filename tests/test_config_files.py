"""Config files as operators write them: paths relative to the file, blocked domains in the forms
people use, values of the wrong TOML type refused by name, and a private database file."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from node.app import open_node
from node.config import load, problems
from node.errors import ConfigError
from node.federation.netguard import is_blocked
from tests.support import make_settings
from tests.cli_support import BASE_URL, SITE_KEYS, fednode, initialized, site, write  # noqa: F401 (fixtures)

NODE_CONFIG = 'base_url = "https://forum.example.org"\nkeys_dir = "keys"\ndatabase_url = "sqlite+aiosqlite:///data/fednode.db"\n'


# --- paths -------------------------------------------------------------------------------

def test_relative_paths_in_a_config_file_are_relative_to_its_folder(tmp_path, monkeypatch):
    """keys_dir and a SQLite database_url written relative in /srv/forum/fednode.toml mean /srv/forum/..."""
    # Given a config file in its node's folder, with relative paths
    folder = tmp_path / "srv" / "forum"
    folder.mkdir(parents=True)
    config = write(folder, "fednode.toml", NODE_CONFIG)
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    # When it is loaded from another folder
    monkeypatch.chdir(elsewhere)
    settings = load(config, environ={})
    # Then the paths point into the config file's folder
    assert settings.keys_dir == str(folder / "keys")
    assert settings.database_url == f"sqlite+aiosqlite:///{folder / 'data' / 'fednode.db'}"


def test_relative_paths_from_flags_and_environment_stay_relative_to_the_current_folder(tmp_path, monkeypatch):
    """A relative path given on the command line or in FEDNODE_* is the shell's: relative to where it runs."""
    # Given a config file elsewhere and a relative keys_dir in the environment
    folder = tmp_path / "srv"
    folder.mkdir()
    config = write(folder, "fednode.toml", NODE_CONFIG)
    # When it is loaded
    monkeypatch.chdir(tmp_path)
    settings = load(config, environ={"FEDNODE_KEYS_DIR": "mykeys"})
    # Then the environment's path is used as written
    assert settings.keys_dir == "mykeys"


def test_a_command_run_from_another_folder_uses_the_nodes_database_and_keys(site, tmp_path_factory):
    """`fednode authors list --config /srv/forum/fednode.toml` run elsewhere creates no new identity."""
    # Given an initialized node and another, empty folder
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    keys_before = sorted(p.name for p in (site / "keys").iterdir())
    # When a command names the node's config file from there
    result = fednode(elsewhere, "authors", "list", "--config", str(site / "fednode.toml"))
    # Then it reads the node's own database and keys, and creates nothing where it ran
    assert result.returncode == 0, result.stderr
    assert "@editor@forum.example.org" in result.stdout
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in (site / "keys").iterdir()) == keys_before


def test_init_with_a_config_file_elsewhere_writes_paths_that_keep_working(tmp_path, tmp_path_factory):
    """init --config etc/node.toml writes paths that lead back to the keys and database init made."""
    # Given an empty folder
    # When init writes its config into a sub-folder, then a command reads it from somewhere else
    made = fednode(tmp_path, "init", "--config", "etc/node.toml", "--base-url", BASE_URL)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    listed = fednode(elsewhere, "authors", "list", "--config", str(tmp_path / "etc" / "node.toml"))
    # Then the file names the keys and database (outside its folder) by absolute path, and the second command used them
    assert made.returncode == 0 and listed.returncode == 0, made.stderr + listed.stderr
    written = tomllib.loads((tmp_path / "etc" / "node.toml").read_text(encoding="utf-8"))
    assert (written["keys_dir"], written["database_url"]) == (str(tmp_path / "keys"), f"sqlite+aiosqlite:///{tmp_path / 'fednode.db'}")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted(SITE_KEYS)
    assert "@editor@forum.example.org" in listed.stdout
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "etc" / "keys").exists()


def test_init_without_a_base_url_leaves_it_unset_so_the_url_follows_the_port(tmp_path):
    """A development init writes base_url commented out: the node stays a development node."""
    # Given an empty folder
    # When init runs without a base URL
    result = fednode(tmp_path, "init")
    settings = load(tmp_path / "fednode.toml", environ={}, overrides={"listen_port": "8093"})
    # Then the written file does not pin the URL, and a later port change moves it
    assert result.returncode == 0, result.stderr
    assert '# base_url = "https://forum.example.org"' in (tmp_path / "fednode.toml").read_text(encoding="utf-8")
    assert settings.is_development and settings.base_url == "http://localhost:8093"


# --- blocked_domains ------------------------------------------------------------------------

def test_blocked_domains_accept_urls_wildcards_and_handles_hosts(tmp_path):
    """"https://spam.example/", "*.evil.example" and "@troll.example" block those domains and their subdomains."""
    # Given the forms people write
    config = write(tmp_path, "fednode.toml",
                   'blocked_domains = ["https://Spam.Example/", "*.evil.example", "@troll.example", "bücher.example"]\n')
    # When the settings are loaded
    blocked = load(config, environ={}).blocked_domains
    # Then each became the host it names, and blocks what the operator meant
    assert blocked == ["spam.example", "evil.example", "troll.example", "xn--bcher-kva.example"]
    assert is_blocked("spam.example", blocked)
    assert is_blocked("mastodon.evil.example", blocked)
    assert is_blocked("troll.example", blocked)
    assert not is_blocked("good.example", blocked)


@pytest.mark.parametrize("entry", ["spam example", "ftp://spam.example", "*", "user@spam.example"])
def test_check_config_refuses_a_blocked_domain_that_is_not_a_domain(tmp_path, entry):
    """An entry that names no domain is refused by check-config, naming the setting and the entry."""
    # Given a config file with such an entry
    write(tmp_path, "fednode.toml", f'blocked_domains = ["{entry}"]\n')
    # When check-config runs
    result = fednode(tmp_path, "check-config")
    # Then it fails and says which entry is wrong and how to write it
    assert result.returncode == 1
    assert f"blocked_domains: {entry!r} is not" in result.stderr
    assert "Traceback" not in result.stderr


def test_blocked_domains_from_the_environment_are_normalised_too():
    """FEDNODE_BLOCKED_DOMAINS is read the same way as the file."""
    # Given a comma-separated list of URLs and wildcards
    # When it is loaded
    settings = load(environ={"FEDNODE_BLOCKED_DOMAINS": "https://a.example/users/x, *.b.example"}, read_default_file=False)
    # Then the hosts are kept
    assert settings.blocked_domains == ["a.example", "b.example"]


# --- types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, name", [
    ('listen_port = "8081"', "listen_port"),
    ("listen_port = 8081.9", "listen_port"),
    ("listen_port = 8081.0", "listen_port"),
    ('authorized_fetch = "yes"', "authorized_fetch"),
    ("site_name = 42", "site_name"),
    ('blocked_domains = "spam.example"', "blocked_domains"),
])
def test_a_value_of_the_wrong_toml_type_is_an_error(tmp_path, line, name):
    """A quoted number, a fraction, a quoted boolean, a number for text: refused, naming the setting."""
    # Given a config file with a value of the wrong type
    config = write(tmp_path, "fednode.toml", line + "\n")
    # When it is loaded
    with pytest.raises(ConfigError) as caught:
        load(config, environ={})
    # Then the reason names the setting and what to write instead
    assert caught.value.reason.startswith(f"{name}: ")
    assert "write " in caught.value.reason


def test_check_config_explains_a_quoted_port(tmp_path):
    """check-config on `listen_port = "8081"` exits 1 and says to drop the quotes."""
    # Given the mistake
    write(tmp_path, "fednode.toml", 'listen_port = "8081"\n')
    # When check-config runs
    result = fednode(tmp_path, "check-config")
    # Then it explains it by name
    assert result.returncode == 1
    assert "listen_port: '8081' from fednode.toml is not a valid int: write a whole number without quotes" in result.stderr


def test_a_fractional_port_from_the_environment_is_refused():
    """FEDNODE_LISTEN_PORT=8081.9 is not quietly 8081."""
    with pytest.raises(ConfigError) as caught:
        load(environ={"FEDNODE_LISTEN_PORT": "8081.9"}, read_default_file=False)
    assert caught.value.reason.startswith("listen_port: ")


# --- the database file ----------------------------------------------------------------------------

async def test_the_sqlite_database_and_its_wal_files_are_private(tmp_path):
    """A new database (and its -wal and -shm files) is readable by its owner only, like the keys."""
    # Given a new node folder
    settings = make_settings(tmp_path)
    # When the node opens (creating and migrating its database) and has written to it
    node = await open_node(settings)
    try:
        files = {name: stat.S_IMODE((tmp_path / name).stat().st_mode)
                 for name in ("fednode.db", "fednode.db-wal", "fednode.db-shm") if (tmp_path / name).exists()}
    finally:
        await node.close()
    # Then each file is 0600
    assert "fednode.db" in files and "fednode.db-wal" in files
    assert set(files.values()) == {0o600}


def test_init_creates_a_private_database(site):
    """The database fednode init made is 0600."""
    assert stat.S_IMODE((Path(site) / "fednode.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("seconds, refused", [(14, True), (15, False), (120, False)])
def test_a_delivery_lease_shorter_than_a_delivery_can_take_is_refused(tmp_path, seconds, refused):
    """A lease under the POST's connect + read timeouts (5 + 10 s) would let a live worker's row be sent twice."""
    settings = make_settings(tmp_path, delivery_lease_seconds=seconds)
    found = [p for p in problems(settings) if p.startswith("delivery_lease_seconds:")]
    assert found == (["delivery_lease_seconds: must be at least 15 (a delivery may take 5 s to connect and 10 s to read)"]
                     if refused else [])


APPLY_LEASE_TOO_SHORT = ("apply_lease_seconds: must be at least 60 (applying an activity may fetch a document: "
                         "30 s for its URL and 30 s more when it must be fetched again by its id)")


@pytest.mark.parametrize("seconds, expected", [
    (-1, ["apply_lease_seconds: must be at least 1"]), (0, ["apply_lease_seconds: must be at least 1"]),
    (30, [APPLY_LEASE_TOO_SHORT]), (59, [APPLY_LEASE_TOO_SHORT]), (60, []), (600, []),
])
def test_an_apply_lease_shorter_than_a_document_fetch_is_refused(tmp_path, seconds, expected):
    """A claim on received activities must outlast one document fetch (the 30 s deadline, twice when the document
    is fetched again by its id), or the poll hands a row still being fetched for to another processor."""
    settings = make_settings(tmp_path, apply_lease_seconds=seconds)
    found = [p for p in problems(settings) if p.startswith("apply_lease_seconds:")]
    assert found == expected
