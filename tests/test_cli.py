"""The real ``fednode`` command line, run as ``python -m node`` in a subprocess inside a temporary folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from node import __version__
from node.cli import build_parser, settings_from_args
from node.config import SETTINGS, load
from node.errors import ConfigError
from tests.cli_support import (  # noqa: F401 (initialized, site: fixtures)
    BASE_URL, POST, SITE_KEYS, article_document, fednode, initialized, key_files, rows, serve_and_get, site, write,
)
from tests.support import free_port


def head_revision() -> str:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    from node.db.engine import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# --- init --------------------------------------------------------------------------

def test_init_succeeds_and_lists_the_site_actors(initialized):
    """init exits 0 and names the instance actor, the site Group and the first author."""
    # Given an empty folder
    # When `fednode init --base-url https://forum.example.org` runs (in the fixture)
    folder, result = initialized
    # Then it succeeds and says what it made
    assert result.returncode == 0, result.stderr
    assert "wrote fednode.toml" in result.stdout
    for line in ("Application  @instance.actor@forum.example.org", "Group        @forum@forum.example.org",
                 "Person       @editor@forum.example.org"):
        assert line in result.stdout


def test_init_writes_a_config_file_with_every_setting(initialized):
    """init writes fednode.toml holding the base URL given and every other setting."""
    # Given an initialized folder
    folder, _ = initialized
    # When its config file is read back, as TOML and through the settings loader
    written = tomllib.loads((folder / "fednode.toml").read_text(encoding="utf-8"))
    settings = load(folder / "fednode.toml", environ={})
    # Then it names every setting, with the flags' values and the defaults
    assert set(written) == {setting.name for setting in SETTINGS}
    # (the relative keys_dir is written as given and read relative to the file's folder)
    assert (written["keys_dir"], written["database_url"]) == ("keys", "sqlite+aiosqlite:///fednode.db")
    assert (settings.base_url, settings.keys_dir, settings.listen_port) == (BASE_URL, str(folder / "keys"), 8080)


def test_init_creates_private_rsa_keys(initialized):
    """init creates one key file per site actor, readable by the owner only."""
    # Given an initialized folder
    folder, _ = initialized
    # When the keys folder is listed
    found = key_files(folder)
    # Then each actor has a PEM with mode 0600
    assert sorted(found) == sorted(SITE_KEYS)
    assert {mode for _, _, mode in found.values()} == {0o600}
    assert all(pem.startswith(b"-----BEGIN PRIVATE KEY-----") for pem, _, _ in found.values())


def test_init_migrates_the_database_and_stores_the_actors(initialized):
    """init creates the SQLite database at the newest schema with the three local actors."""
    # Given an initialized folder
    folder, _ = initialized
    # When the database is read
    revision = rows(folder, "SELECT version_num FROM alembic_version")
    actors = rows(folder, "SELECT ap_type, ap_id FROM actors WHERE is_local ORDER BY ap_type")
    # Then it is migrated and holds the site's actors at the public URL
    assert revision == [(head_revision(),)]
    assert actors == [
        ("Application", f"{BASE_URL}/actor"),
        ("Group", f"{BASE_URL}/actors/forum"),
        ("Person", f"{BASE_URL}/actors/editor"),
    ]


def test_init_twice_changes_nothing(site):
    """A second init keeps the config file, the keys (bytes and mtimes) and the actors as they were."""
    # Given an initialized folder
    config_before = (site / "fednode.toml").read_bytes()
    keys_before = key_files(site)
    actors_before = rows(site, "SELECT id, ap_id, public_key_pem FROM actors ORDER BY id")
    # When init runs again, even with another base URL
    result = fednode(site, "init", "--base-url", "https://other.example.org", "--keys-dir", "keys")
    # Then it says it kept the config and nothing changed
    assert result.returncode == 0, result.stderr
    assert "kept existing fednode.toml" in result.stdout
    assert (site / "fednode.toml").read_bytes() == config_before
    assert key_files(site) == keys_before
    assert rows(site, "SELECT id, ap_id, public_key_pem FROM actors ORDER BY id") == actors_before


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_init_writes_the_config_file_named_by_config(tmp_path, how):
    """init --config PATH (or FEDNODE_CONFIG=PATH) writes its config file there, creating the folder."""
    # Given an empty folder
    # When init is told where its config file goes
    where = (["--config", "etc/node.toml"], {}) if how == "flag" else ([], {"FEDNODE_CONFIG": "etc/node.toml"})
    result = fednode(tmp_path, "init", *where[0], "--base-url", BASE_URL, "--keys-dir", "keys", env=where[1])
    # Then it writes that file and nothing at the default place
    assert result.returncode == 0, result.stderr
    assert load(tmp_path / "etc" / "node.toml", environ={}).base_url == BASE_URL
    assert not (tmp_path / "fednode.toml").exists()


# --- publish and articles -------------------------------------------------------------

def test_publish_prints_the_article_url(site):
    """publish post.md stores the article and prints its canonical URL."""
    # Given an initialized node and a Markdown post
    write(site, "post.md", POST)
    # When it is published
    result = fednode(site, "publish", "post.md")
    # Then the URL is printed and the article is stored with its front matter
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"published: {BASE_URL}/articles/hello"
    assert rows(site, "SELECT slug, name, language FROM objects") == [("hello", "Hello, fediverse", "en")]


async def test_publish_same_slug_again_updates_the_article(site, monkeypatch):
    """Publishing the same slug again prints "updated" and the Article's ``updated`` moves forward."""
    # Given a published post
    post = write(site, "post.md", POST)
    first = fednode(site, "publish", "post.md")
    # When it is edited and published again
    post.write_text(POST.replace("The text", "The edited text"), encoding="utf-8")
    second = fednode(site, "publish", "post.md")
    # Then it says updated, and the one Article now has the new text and a newer `updated`
    assert first.stdout.startswith("published:") and second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"updated: {BASE_URL}/articles/hello"
    document = await article_document(site, monkeypatch, "hello")
    assert "The edited text" in document["content"]
    assert document["updated"] > document["published"]
    assert rows(site, "SELECT count(*) FROM objects") == [(1,)]


BAD_POSTS = [
    ("---\nslug: x\n---\nBody\n", "front matter needs a 'title'"),
    ("---\ntitle: X\ncolour: red\n---\nBody\n", "unknown front matter field(s): colour"),
    ("---\ntitle: X\nBody\n", "front matter is not closed by a line '---'"),
    ("---\ntitle: X\nslug: Bad Slug\n---\nBody\n", "slug 'Bad Slug' must be lowercase letters"),
    ("Just text, no front matter\n", "must start with front matter"),
]  # every other front-matter rule is in tests/test_content.py


@pytest.mark.parametrize("text, message", BAD_POSTS)
def test_publish_bad_front_matter_explains_and_stores_nothing(site, text, message):
    """A post with bad front matter exits non-zero with a message naming the problem, and stores nothing."""
    # Given an initialized node and a broken post
    write(site, "bad.md", text)
    # When it is published
    result = fednode(site, "publish", "bad.md")
    # Then the command fails, names the file and the problem, and no article exists
    assert result.returncode != 0
    assert f"bad.md: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(site, "SELECT count(*) FROM objects") == [(0,)]


def test_articles_lists_published_articles(site):
    """articles prints each article's date, slug, title and author."""
    # Given a published post
    write(site, "post.md", POST)
    fednode(site, "publish", "post.md")
    # When the articles are listed
    result = fednode(site, "articles")
    # Then the post is there
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "hello" in line and "Hello, fediverse" in line and "by @editor" in line


def test_authors_add_then_publish_as_that_author(site):
    """authors add alice creates a Person whose name publish --author alice writes under."""
    # Given an initialized node
    write(site, "post.md", POST)
    # When alice is added and publishes
    added = fednode(site, "authors", "add", "alice")
    published = fednode(site, "publish", "post.md", "--author", "alice")
    # Then alice is a local Person and the article is hers
    assert added.stdout.strip() == f"added: @alice@forum.example.org {BASE_URL}/actors/alice"
    assert published.returncode == 0, published.stderr
    assert rows(site, "SELECT a.username, a.ap_type FROM objects o JOIN actors a ON a.id = o.actor_id") == [
        ("alice", "Person")
    ]
    assert (site / "keys" / "actor-alice.pem").exists()


def test_publish_as_unknown_author_says_how_to_add_one(site):
    """publish --author NAME for an author that does not exist fails and says how to add one."""
    # Given an initialized node without bob
    write(site, "post.md", POST)
    # When bob is named as the author
    result = fednode(site, "publish", "post.md", "--author", "bob")
    # Then it fails with the command to run
    assert result.returncode != 0
    assert "fednode authors add bob" in result.stderr
    assert rows(site, "SELECT count(*) FROM objects") == [(0,)]


# --- settings ----------------------------------------------------------------------

@pytest.mark.parametrize("env, args, name", [
    ({"FEDNODE_LISTEN_PORT": "99999"}, [], "listen_port"),
    ({"FEDNODE_LISTEN_PORT": "eighty"}, [], "listen_port"),
    ({}, ["--base-url", "ftp://x"], "base_url"),
    ({"FEDNODE_SITE_USERNAME": "The Forum"}, [], "site_username"),
    ({"FEDNODE_DATABASE_URL": "mysql://db"}, [], "database_url"),
    ({"FEDNODE_APPLY_LEASE_SECONDS": "0"}, [], "apply_lease_seconds"),
    ({}, ["--apply-lease-seconds", "30"], "apply_lease_seconds"),
])
def test_check_config_names_the_bad_setting(tmp_path, env, args, name):
    """check-config exits 1 and explains a bad value by the setting's name."""
    # Given a folder without a config file and one bad setting
    # When check-config runs
    result = fednode(tmp_path, "check-config", *args, env=env)
    # Then it fails and the explanation starts with that setting's name
    assert result.returncode == 1
    assert f"  {name}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_initialized_node(site):
    """check-config on a freshly initialized node finds no problem."""
    # Given an initialized node
    # When check-config runs
    result = fednode(site, "check-config")
    # Then it is happy and says which file it read
    assert result.returncode == 0, result.stderr
    assert "configuration from fednode.toml" in result.stdout
    assert "no problems found" in result.stdout


def test_other_commands_refuse_bad_settings(tmp_path):
    """Commands other than check-config refuse to run with a bad setting and point to check-config."""
    # Given a bad port in the environment
    # When articles runs
    result = fednode(tmp_path, "articles", env={"FEDNODE_LISTEN_PORT": "0"})
    # Then it fails before touching anything
    assert result.returncode != 0
    assert "listen_port" in result.stderr and "fednode check-config" in result.stderr
    assert not (tmp_path / "fednode.db").exists()


@pytest.mark.parametrize("in_file, in_env, in_flag, expected", [
    (None, None, None, 8080),
    (1111, None, None, 1111),
    (1111, "2222", None, 2222),
    (1111, "2222", "3333", 3333),
    (None, None, "3333", 3333),
])
def test_settings_precedence_file_env_flag(tmp_path, in_file, in_env, in_flag, expected):
    """A setting comes from the flag, else FEDNODE_*, else the config file, else its default."""
    # Given a value (or none) in the config file, the environment and the flags
    config = write(tmp_path, "fednode.toml", f"listen_port = {in_file}\n" if in_file else "")
    environ = {"FEDNODE_LISTEN_PORT": in_env} if in_env else {}
    argv = ["check-config", "--config", str(config)] + (["--listen-port", in_flag] if in_flag else [])
    # When the CLI builds its settings
    settings = settings_from_args(build_parser().parse_args(argv), environ=environ)
    # Then the highest-precedence source wins
    assert settings.listen_port == expected


def test_settings_from_a_file_keep_other_values(tmp_path):
    """A flag overrides only its own setting: the rest still comes from the file."""
    # Given a config file with two settings
    config = write(tmp_path, "fednode.toml", 'site_name = "From the file"\nlisten_port = 1111\n')
    # When only the port is given as a flag
    settings = load(config, environ={}, overrides={"listen_port": "3333"})
    # Then the name still comes from the file
    assert (settings.site_name, settings.listen_port) == ("From the file", 3333)


@pytest.mark.parametrize("text, message", [
    ("colour = 1\n", "unknown setting(s): colour"),
    ("listen_port = [\n", "not valid TOML"),
    ('listen_port = "eighty"\n', "listen_port: 'eighty'"),
])
def test_bad_config_file_is_explained(tmp_path, text, message):
    """An unknown key, broken TOML or a wrong type in the config file is an error that says so."""
    # Given a broken config file
    config = write(tmp_path, "fednode.toml", text)
    # When it is loaded
    with pytest.raises(ConfigError) as caught:
        load(config, environ={})
    # Then the reason names the problem
    assert message in caught.value.reason


def test_version_flag_prints_the_version(tmp_path):
    """python -m node --version prints the package version."""
    # Given the installed package
    # When --version is asked
    result = fednode(tmp_path, "--version")
    # Then it prints it and exits 0
    assert result.returncode == 0
    assert result.stdout.strip() == f"fednode {__version__}"


def test_db_upgrade_migrates_a_new_database(tmp_path):
    """db upgrade brings an empty SQLite database to the newest revision and prints it."""
    # Given an empty folder
    # When db upgrade runs
    result = fednode(tmp_path, "db", "upgrade")
    # Then the database exists at the newest revision
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database at revision {head_revision()}"
    assert rows(tmp_path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


# --- serve -------------------------------------------------------------------------


def serve_until_answering(folder: Path, *extra: str, path: str = "/") -> tuple[int, str, str]:
    """``serve_and_get`` on a free port whose base URL is its loopback address."""
    port = free_port()
    return serve_and_get(folder, port, "--base-url", f"http://127.0.0.1:{port}", *extra, path=path,
                         host=f"127.0.0.1:{port}")


def test_fresh_serve_answers_on_its_port(tmp_path):
    """A fresh `fednode serve` in an empty folder prints where it listens and answers HTTP there."""
    # Given an empty folder and a free port
    # When fednode serve starts there and the index is requested
    status, body, stdout = serve_until_answering(tmp_path)
    # Then it answered and had said where it listens; it made its keys and database itself
    assert status == 200
    assert "Articles" in body
    assert "Fednode listening on http://127.0.0.1:" in stdout
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == sorted(SITE_KEYS)
    assert (tmp_path / "fednode.db").exists()


def test_serve_demo_seeds_the_sample_discussion(tmp_path):
    """serve --demo seeds the sample article, whose page shows a discussion four levels deep."""
    # Given an empty folder
    # When fednode serve --demo starts and the demo article is requested
    status, body, stdout = serve_until_answering(tmp_path, "--demo", path="/articles/welcome-to-the-forum")
    # Then the article and its nested discussion are there
    assert status == 200
    assert "demo article seeded: http://127.0.0.1:" in stdout
    assert "Welcome to the forum" in body
    assert '<span class="number">1.1.1.1</span>' in body
