"""SQLite database files for backups: a consistent copy of a live database, and checks of a copy.

The copy uses SQLite's online backup API (``sqlite3.Connection.backup``), which reads a
consistent snapshot while the node keeps writing (WAL mode); copying the file alone is not
safe while it is being written. The copy is a single self-contained file (rollback journal,
not WAL), so it can be archived and restored as it is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30


def copy_sqlite(source: Path, target: Path) -> None:
    """Write a consistent copy of the SQLite database ``source`` to the new file ``target``."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS) as src:
        with sqlite3.connect(target) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal to carry along
    # sqlite3's context manager commits but does not close
    src.close()
    dst.close()


def schema_revision(path: Path) -> str | None:
    """The Alembic revision a SQLite database file is at (None if it was never migrated)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
    db.close()
    return row[0] if row else None


def integrity_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a sound SQLite database, or None when it is."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()
        db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result and result[0] == "ok" else str(result[0] if result else "no answer")
