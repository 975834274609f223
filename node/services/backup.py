"""``fednode backup`` and ``fednode restore``: a node's database, keys and config in one archive.

A node is three things: its database, its private keys (a lost key cannot be replaced
without breaking every remote server's copy of it) and its config file. A backup is a
gzipped tar readable by the owner only (it holds private keys)::

    fednode-backup/manifest.json   what is inside, the public URL, the schema revision
    fednode-backup/fednode.db      a consistent SQLite copy (online backup API), if SQLite
    fednode-backup/fednode.toml    the config file, if the node has one
    fednode-backup/keys/*.pem      every private key

A restore puts them where the restoring node's settings say (the archived config file
first, so its paths apply), and never overwrites a database or a different key unless told to.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from node import __version__
from node.config import Settings, sqlite_path
from node.db.backup import copy_sqlite, integrity_problem, schema_revision
from node.errors import NodeError

ROOT = "fednode-backup"
FORMAT = 1
KEY_SUFFIX = ".pem"


class BackupError(NodeError):
    """A backup cannot be made or restored; the reason says what to do."""


@dataclass
class Manifest:
    """What a backup archive holds (``manifest.json``)."""

    base_url: str
    created: str
    database: str | None  # "fednode.db" when the archive holds a SQLite copy
    revision: str | None
    config: str | None  # "fednode.toml" when the archive holds the config file
    keys: list[str] = field(default_factory=list)
    format: int = FORMAT
    fednode: str = __version__

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode("utf-8")


def _private_file(path: Path):
    """Open ``path`` for writing, new, mode 0600 (it will hold private keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists already; name another file with --output") from None
    return os.fdopen(fd, "wb")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(f"{ROOT}/{name}")
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(timezone.utc).timestamp())
    tar.addfile(info, io.BytesIO(data))


def make_backup(settings: Settings, output: Path) -> Manifest:
    """Write the archive ``output`` for the node of ``settings``; return what it holds.

    On PostgreSQL the database is not included (``pg_dump`` is the tool for it): the manifest
    says so with ``database: null``.
    """
    keys_dir = Path(settings.keys_dir)
    keys = sorted(p for p in keys_dir.glob(f"*{KEY_SUFFIX}") if p.is_file()) if keys_dir.is_dir() else []
    if not keys:
        raise BackupError(f"no keys in {keys_dir}: is this the node's folder (or its --config)?")
    database = sqlite_path(settings.database_url)
    if database is not None and not Path(database).is_file():
        raise BackupError(f"no database at {database}: is this the node's folder (or its --config)?")
    config = Path(settings.config_file) if settings.config_file else None
    with tempfile.TemporaryDirectory(prefix="fednode-backup-") as scratch:
        manifest = Manifest(
            base_url=settings.base, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            database=None, revision=None, config=config.name if config else None,
            keys=[p.name for p in keys],
        )
        copy = Path(scratch) / "fednode.db"
        if database is not None:
            copy_sqlite(Path(database), copy)
            manifest.database, manifest.revision = "fednode.db", schema_revision(copy)
        with _private_file(output) as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", manifest.to_json())
            if manifest.database:
                _add_bytes(tar, "fednode.db", copy.read_bytes())
            if config is not None:
                _add_bytes(tar, "fednode.toml", config.read_bytes())
            for key in keys:
                _add_bytes(tar, f"keys/{key.name}", key.read_bytes())
    return manifest


@dataclass
class Archive:
    """A backup archive read into memory and checked: its manifest and its files' bytes."""

    manifest: Manifest
    files: dict[str, bytes]

    def key_files(self) -> dict[str, bytes]:
        return {name: self.files[f"keys/{name}"] for name in self.manifest.keys}


def read_backup(path: Path) -> Archive:
    """Read and check an archive: only the files a backup has, regular files, named safely."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            files: dict[str, bytes] = {}
            for member in tar.getmembers():
                name = member.name.removeprefix(f"{ROOT}/")
                if member.isdir() and member.name in (ROOT, f"{ROOT}/keys"):
                    continue
                safe = name in ("manifest.json", "fednode.db", "fednode.toml") or (
                    name.startswith("keys/") and name.count("/") == 1 and name.endswith(KEY_SUFFIX)
                    and not name[5:].startswith("."))
                if not member.name.startswith(f"{ROOT}/") or not member.isfile() or not safe:
                    raise BackupError(f"{path}: unexpected entry {member.name!r}; not a fednode backup")
                files[name] = tar.extractfile(member).read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path}: cannot read the archive ({exc})") from None
    try:
        raw = json.loads(files["manifest.json"])
        manifest = Manifest(**raw)
    except (KeyError, ValueError, TypeError):
        raise BackupError(f"{path}: no valid manifest.json; not a fednode backup") from None
    if manifest.format != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.format} is not one this version reads ({FORMAT})")
    missing = [n for n in ([manifest.database, manifest.config] + [f"keys/{k}" for k in manifest.keys]) if n and n not in files]
    if missing:
        raise BackupError(f"{path}: the archive lacks {', '.join(missing)}")
    return Archive(manifest, files)


def restore_config(archive: Archive, config_path: Path, *, force: bool) -> bool:
    """Put the archived config file at ``config_path``; return whether it was written."""
    if archive.manifest.config is None:
        return False
    data = archive.files["fednode.toml"]
    if config_path.exists():
        if config_path.read_bytes() == data:
            return False
        if not force:
            raise BackupError(f"{config_path} exists and differs from the archived one; move it away or pass --force")
    _write_private(config_path, data)
    return True


@dataclass
class Restored:
    """What a restore put where."""

    database: Path | None = None
    keys: list[Path] = field(default_factory=list)
    kept_keys: list[Path] = field(default_factory=list)


def restore_data(archive: Archive, settings: Settings, *, force: bool, check_only: bool = False) -> Restored:
    """Put the archived database and keys where ``settings`` say; refuse to overwrite unless ``force``.

    Every refusal comes before anything is written (``check_only`` stops there): the database
    target, and every key (a different key already there means another identity). The
    database copy's integrity is checked before it replaces anything.
    """
    restored = Restored()
    database = sqlite_path(settings.database_url)
    if archive.manifest.database:
        if database is None:
            raise BackupError(
                "the archive holds a SQLite database but this node's database_url is not SQLite; restore into a "
                "SQLite node (set database_url to a sqlite+aiosqlite:/// path) and copy it from there")
        target = Path(database)
        if target.exists() and not force:
            raise BackupError(f"a database exists at {target}; stop the node, move it away (or pass --force) and restore again")
    key_targets = {Path(settings.keys_dir) / name: data for name, data in archive.key_files().items()}
    clashes = [p for p, data in key_targets.items() if p.exists() and p.read_bytes() != data]
    if clashes and not force:
        raise BackupError(f"{clashes[0]} exists with another key (another identity); move it away or pass --force")
    if check_only:
        return restored
    if archive.manifest.database:
        restored.database = _restore_database(archive.files["fednode.db"], Path(database))
    for path, data in key_targets.items():
        if path.exists() and path.read_bytes() == data:
            restored.kept_keys.append(path)
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, data)
        restored.keys.append(path)
    return restored


def _restore_database(data: bytes, target: Path) -> Path:
    """Write the database atomically: a checked temporary file beside it, then a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".restore-", suffix=".db", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        problem = integrity_problem(Path(temporary))
        if problem is not None:
            raise BackupError(f"the archived database is damaged ({problem}); nothing was restored")
        for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):  # belong to the file being replaced
            stale.unlink(missing_ok=True)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".restore-", dir=path.parent)  # mode 0600
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
