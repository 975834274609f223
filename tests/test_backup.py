"""``fednode backup`` and ``fednode restore``: one private archive that brings a node back whole."""

from __future__ import annotations

import io
import sqlite3
import stat
import tarfile

from tests.cli_support import BASE_URL, POST, SITE_KEYS, fednode, initialized, key_files, rows, site, write  # noqa: F401 (fixtures)


def backed_up(site) -> tuple:
    """Publish a post and add an author in ``site``, then back it up to site/backup.tgz."""
    write(site, "post.md", POST)
    assert fednode(site, "publish", "post.md").returncode == 0
    assert fednode(site, "authors", "add", "alice").returncode == 0
    result = fednode(site, "backup", "--output", "backup.tgz")
    assert result.returncode == 0, result.stderr
    return site / "backup.tgz", result


def test_backup_then_restore_brings_the_node_back(site, tmp_path_factory):
    """A node restored from its backup into an empty folder has the same articles, authors, keys and config."""
    # Given a node with an article and a second author, backed up
    archive, made = backed_up(site)
    # When the archive is restored into an empty folder
    fresh = tmp_path_factory.mktemp("restored")
    result = fednode(fresh, "restore", str(archive))
    # Then the config, the keys (byte for byte) and the database are back, and commands see the same node
    assert result.returncode == 0, result.stderr
    assert "backup written: backup.tgz (database at revision" in made.stdout
    assert (fresh / "fednode.toml").read_bytes() == (site / "fednode.toml").read_bytes()
    assert {k: v[0] for k, v in key_files(fresh).items()} == {k: v[0] for k, v in key_files(site).items()}
    assert {mode for _, _, mode in key_files(fresh).values()} == {0o600}
    assert rows(fresh, "SELECT ap_id, public_key_pem FROM actors ORDER BY id") == rows(
        site, "SELECT ap_id, public_key_pem FROM actors ORDER BY id")
    listed = fednode(fresh, "articles")
    assert "hello" in listed.stdout and "Hello, fediverse" in listed.stdout
    assert "@alice@forum.example.org" in fednode(fresh, "authors", "list").stdout
    assert sorted(p.name for p in (fresh / "keys").iterdir()) == sorted((*SITE_KEYS, "actor-alice.pem"))


def test_backup_archive_is_private_and_holds_what_its_manifest_says(site):
    """The archive is mode 0600 (private keys) and lists its database, config and keys."""
    archive, _ = backed_up(site)
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
        manifest = __import__("json").loads(tar.extractfile("fednode-backup/manifest.json").read())
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert names == sorted(["fednode-backup/manifest.json", "fednode-backup/fednode.db", "fednode-backup/fednode.toml",
                            *(f"fednode-backup/keys/{k}" for k in (*SITE_KEYS, "actor-alice.pem"))])
    assert (manifest["base_url"], manifest["database"], manifest["config"]) == (BASE_URL, "fednode.db", "fednode.toml")


def test_backup_copies_what_is_committed_but_still_in_the_write_ahead_log(site, tmp_path_factory):
    """A change committed while another connection keeps the WAL un-checkpointed is in the backup
    (copying fednode.db alone would miss it): the SQLite backup API reads the database as SQLite sees it."""
    # Given a published article, then a committed edit that stays in the WAL (a node still has it open)
    write(site, "post.md", POST)
    fednode(site, "publish", "post.md")
    node = sqlite3.connect(site / "fednode.db")
    try:
        node.execute("PRAGMA wal_autocheckpoint=0")
        node.execute("UPDATE objects SET name = 'Changed in the log' WHERE slug = 'hello'")
        node.commit()
        # When a backup is made meanwhile, and restored elsewhere
        assert fednode(site, "backup", "-o", "live.tgz").returncode == 0
    finally:
        node.close()
    fresh = tmp_path_factory.mktemp("restored")
    assert fednode(fresh, "restore", str(site / "live.tgz")).returncode == 0
    # Then the committed change is there
    assert rows(fresh, "SELECT name FROM objects WHERE slug = 'hello'") == [("Changed in the log",)]


def test_restore_refuses_to_overwrite_a_database(site):
    """Restoring where a database exists is refused (stop the node, move it away, or --force); nothing changes."""
    archive, _ = backed_up(site)
    fednode(site, "authors", "add", "bruno")
    result = fednode(site, "restore", str(archive))
    assert result.returncode == 2
    assert "a database exists at" in result.stderr and "--force" in result.stderr
    assert rows(site, "SELECT count(*) FROM actors WHERE username = 'bruno'") == [(1,)]


def test_restore_with_force_replaces_the_database(site):
    """--force puts the backed-up database back (here: undoing a later change)."""
    archive, _ = backed_up(site)
    fednode(site, "authors", "add", "bruno")
    result = fednode(site, "restore", str(archive), "--force")
    assert result.returncode == 0, result.stderr
    assert rows(site, "SELECT count(*) FROM actors WHERE username = 'bruno'") == [(0,)]


def test_restore_refuses_a_different_key_before_writing_anything(site, tmp_path_factory):
    """A folder holding another key for one of the actors is another identity: refused, nothing written."""
    archive, _ = backed_up(site)
    fresh = tmp_path_factory.mktemp("other")
    (fresh / "keys").mkdir()
    (fresh / "keys" / "actor-forum.pem").write_bytes(b"another key\n")
    result = fednode(fresh, "restore", str(archive))
    assert result.returncode == 2
    assert "actor-forum.pem exists with another key" in result.stderr
    assert sorted(p.name for p in fresh.iterdir()) == ["keys"]


def test_restore_refuses_an_archive_with_unexpected_entries(tmp_path):
    """An archive with a path outside the backup layout (../, absolute, links) is not extracted."""
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as tar:
        data = b"x"
        info = tarfile.TarInfo("fednode-backup/../../outside.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    result = fednode(tmp_path, "restore", str(evil))
    assert result.returncode == 2
    assert "unexpected entry" in result.stderr
    assert not (tmp_path.parent / "outside.txt").exists()


def test_a_development_node_without_a_config_file_is_backed_up(tmp_path):
    """A development node has no fednode.toml; its backup holds the database and keys, and says so."""
    fednode(tmp_path, "db", "upgrade")
    fednode(tmp_path, "authors", "list")  # creates the site actors and their keys
    result = fednode(tmp_path, "backup", "-o", "dev.tgz")
    assert result.returncode == 0, result.stderr
    assert "no config file (a development node)" in result.stdout
    with tarfile.open(tmp_path / "dev.tgz") as tar:
        assert "fednode-backup/fednode.db" in tar.getnames()


async def test_a_postgresql_node_backup_holds_keys_and_config_and_says_to_use_pg_dump(site):
    """On PostgreSQL the archive holds the keys and the config; the command names pg_dump for the database."""
    from tests.support import postgres_database

    async with postgres_database() as url:
        result = fednode(site, "backup", "-o", "pg.tgz", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert "back it up with `pg_dump -Fc`" in result.stdout
    with tarfile.open(site / "pg.tgz") as tar:
        names = tar.getnames()
    assert "fednode-backup/fednode.db" not in names
    assert "fednode-backup/fednode.toml" in names and "fednode-backup/keys/actor-forum.pem" in names
