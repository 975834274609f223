"""The SQLite connection under SQLAlchemy: one trip to the database thread per statement, writers queued.

aiosqlite runs each connection's sqlite3 calls on a thread of its own, and its cursor
makes a separate trip there for every call: create the cursor, execute, fetch the
rows, close.  Each trip is a queue hand-off, a thread wake-up, the GIL changing hands
twice and a callback on the event loop; on a busy event loop each costs a millisecond
or more of waiting, and a statement made four of them.  ``Connection`` here keeps
aiosqlite's thread and its interface (SQLAlchemy's aiosqlite dialect drives it
unchanged) but its cursor runs the whole statement in one trip: execute, read the rows
(up to ``CHUNK`` of them; a longer result, such as a streamed table copy, is read on in
chunks) and close the sqlite3 cursor once everything is read.

SQLite has one write lock for the whole database, and a connection that finds it taken
waits in SQLite's busy handler, which sleeps in steps of up to 100 ms (it cannot know
when the lock is released).  Two writers of this process (the inbox's group commit, the
processor's store of a batch) then sleep while the event loop has nothing to do.  So
the connections of one engine also share a ``WriteGate``: a connection takes it before
its first write statement of a transaction and gives it back when the transaction ends
(commit, rollback, close; a commit or rollback with no transaction open, as the pool's
reset of a connection that only read, makes no trip at all), so this process's writers queue on an asyncio lock and the
next one starts the moment the previous one commits.  Nothing is weakened: each
statement still runs and commits exactly as before, and another process (a backup, the
CLI) still meets SQLite's own lock and busy timeout.  A writer that waits for the gate
longer than the busy timeout fails with SQLite's own "database is locked", so
``node.db.busy`` answers it 503 as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from typing import Any, Callable

import aiosqlite

CHUNK = 1000  # rows read together with the statement; a longer result is read on in chunks of this

# The statements that take SQLite's write lock (the sqlite3 module opens a transaction before
# the DML ones; the DDL ones take it too).  SELECT, PRAGMA and the like do not.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def _writes(sql: str) -> bool:
    head = sql.lstrip()[:7].upper()
    if head.startswith("WITH"):
        # A common table expression reads unless its statement writes (WITH ... INSERT/UPDATE/DELETE).
        upper = sql.upper()
        return any(word in upper for word in ("INSERT ", "UPDATE ", "DELETE ", "REPLACE "))
    return head.startswith(_WRITES)


class WriteGate:
    """One writer at a time among an engine's connections in this process (per event loop)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _lock(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        lock = self._locks.get(loop)
        if lock is None:
            # Engines outlive nothing but tests' loops; forget closed loops' locks.
            for old in [old for old in self._locks if old.is_closed()]:
                del self._locks[old]
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self) -> Callable[[], None]:
        """Wait for the gate; the function that gives it back (safe to call from any thread, once)."""
        loop = asyncio.get_running_loop()
        lock = self._lock(loop)
        if lock.locked():
            try:
                async with asyncio.timeout(self.timeout):
                    await lock.acquire()
            except TimeoutError:
                # What SQLite's busy handler says after the same wait: node.db.busy answers it 503.
                raise sqlite3.OperationalError("database is locked") from None
        else:
            await lock.acquire()
        return partial(_release, loop, lock)


def _release(loop: asyncio.AbstractEventLoop, lock: asyncio.Lock) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        lock.release()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(lock.release)


class Connection(aiosqlite.Connection):
    """aiosqlite's connection with one-trip cursors and the engine's write gate."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], gate: WriteGate | None) -> None:
        super().__init__(connector, CHUNK)
        self._gate = gate
        self._release: Callable[[], None] | None = None  # set while this connection holds the gate

    async def _before(self, sql: str) -> None:
        if self._gate is not None and self._release is None and _writes(sql):
            self._release = await self._gate.acquire()

    def _end(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def cursor(self) -> "_Opening":
        return _Opening(self)

    async def commit(self) -> None:
        try:
            if self._conn.in_transaction:  # else nothing to commit: no trip (a read-only transaction)
                await super().commit()
        finally:
            self._end()

    async def rollback(self) -> None:
        try:
            # The pool rolls back every connection it gets back, most of which only read.
            if self._conn.in_transaction:
                await super().rollback()
        finally:
            self._end()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._end()

    def stop(self) -> asyncio.Future | None:
        try:
            return super().stop()
        finally:
            self._end()


class _Opening:
    """What ``cursor()`` returns: awaited (or entered) it is the cursor, without a trip to the thread."""

    def __init__(self, connection: Connection) -> None:
        self._cursor = Cursor(connection)

    def __await__(self):
        yield from ()
        return self._cursor

    async def __aenter__(self) -> "Cursor":
        return self._cursor

    async def __aexit__(self, *exc: Any) -> None:
        await self._cursor.close()


class Cursor:
    """A statement run, read and closed in one trip to the connection's thread (see the module docstring)."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._open: sqlite3.Cursor | None = None  # the sqlite3 cursor while rows are left to read
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def _run(self, method: str, sql: str, parameters: Any) -> None:
        """On the connection's thread: execute, keep what SQLAlchemy reads, read the rows."""
        cursor = self._connection._conn.cursor()
        try:
            getattr(cursor, method)(sql, parameters)
            self.description = cursor.description
            rows = cursor.fetchmany(CHUNK) if self.description else []
        except BaseException:
            cursor.close()
            raise
        self._take(cursor, rows)

    def _take(self, cursor: sqlite3.Cursor, rows: list[Any]) -> None:
        self._rows.extend(rows)
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        if len(rows) < CHUNK:
            cursor.close()
            self._open = None
        else:
            self._open = cursor

    async def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        await self._connection._before(sql)
        await self._reset()
        await self._connection._execute(self._run, "execute", sql, parameters if parameters is not None else ())
        return self

    async def executemany(self, sql: str, parameters: Any) -> "Cursor":
        await self._connection._before(sql)
        await self._reset()
        await self._connection._execute(self._run, "executemany", sql, parameters)
        return self

    async def _reset(self) -> None:
        self._rows = []
        if self._open is not None:
            await self.close()

    def _more(self) -> None:
        """On the connection's thread: the next chunk of a long result."""
        cursor = self._open
        if cursor is not None:
            self._take(cursor, cursor.fetchmany(CHUNK))

    async def fetchone(self) -> Any:
        if not self._rows:
            await self._connection._execute(self._more)
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        while len(self._rows) < size and self._open is not None:
            await self._connection._execute(self._more)
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list[Any]:
        while self._open is not None:
            await self._connection._execute(self._more)
        taken, self._rows = self._rows, []
        return taken

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        while True:
            rows = await self.fetchmany(CHUNK)
            if not rows:
                return
            for row in rows:
                yield row

    async def close(self) -> None:
        cursor, self._open = self._open, None
        self._rows = []
        if cursor is not None:
            await self._connection._execute(cursor.close)

    async def __aenter__(self) -> "Cursor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def connector(database: str, gate: WriteGate | None, **kwargs: Any) -> Callable[[], Connection]:
    """SQLAlchemy's ``async_creator``: a new ``Connection`` to ``database`` (sqlite3.connect's ``kwargs``).

    ``check_same_thread`` is off, as SQLAlchemy's dialect has it: ``commit`` and ``rollback``
    read the connection's ``in_transaction`` from the event loop's thread (while nothing else
    runs on the connection) to skip a trip that would do nothing."""
    kwargs["check_same_thread"] = False

    def create() -> Connection:
        connection = Connection(partial(sqlite3.connect, database, **kwargs), gate)
        connection._thread.daemon = True  # as SQLAlchemy's dialect does for aiosqlite's own connections
        return connection
    return create
