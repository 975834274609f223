"""The suite's proof that no fetch happens inside a database write transaction.

SQLAlchemy's engine events note, per asyncio task, every connection that has
sent an INSERT, UPDATE or DELETE and not yet committed or rolled back.  The
fetcher's GET and POST are wrapped (``conftest.no_fetch_inside_a_write_transaction``,
for every test): one started by a task that holds such a connection is a
violation, raised at once and reported when the test ends, whatever the code
under test did with the exception.

Per task, because that is where the harm is: a task that has written holds
SQLite's only write lock until it commits, so a fetch it awaits meanwhile
stalls every other writer for as long as the remote takes.
"""

from __future__ import annotations

import asyncio
import functools

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

_writing: dict[asyncio.Task, set[object]] = {}
violations: list[str] = []


class FetchInsideWriteTransaction(AssertionError):
    """A fetch began while its task held an uncommitted write."""


def _task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _dbapi(conn) -> object | None:
    """The DBAPI connection under ``conn`` (None once it is closed or invalidated: nothing to track)."""
    try:
        return conn.connection.dbapi_connection
    except Exception:
        return None


def _forget(dbapi_connection: object) -> None:
    for task, connections in list(_writing.items()):
        connections.discard(dbapi_connection)
        if not connections:
            del _writing[task]


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn, cursor, statement, parameters, context, executemany) -> None:
    if statement.lstrip()[:7].upper().startswith(WRITES):
        task, dbapi = _task(), _dbapi(conn)
        if task is not None and dbapi is not None:
            _writing.setdefault(task, set()).add(dbapi)


@event.listens_for(Engine, "commit")
def _committed(conn) -> None:
    _forget(_dbapi(conn))


@event.listens_for(Engine, "rollback")
def _rolled_back(conn) -> None:
    _forget(_dbapi(conn))


@event.listens_for(Pool, "checkin")
def _returned(dbapi_connection, _record) -> None:
    _forget(dbapi_connection)


def holds_write() -> bool:
    """Whether the current task has written and not committed or rolled back yet."""
    task = _task()
    return task is not None and bool(_writing.get(task))


def guarded(method):
    """Wrap a fetcher method: refuse to start it while the calling task holds a write transaction."""
    @functools.wraps(method)
    async def wrapper(self, url, *args, **kwargs):
        if holds_write():
            message = f"{method.__name__}({url}) started while its task holds an open write transaction"
            violations.append(message)
            raise FetchInsideWriteTransaction(message)
        return await method(self, url, *args, **kwargs)
    return wrapper
