"""Telling a busy database from a broken request.

A lock held longer than the busy timeout (SQLite's ``database is locked``, a
PostgreSQL lock or statement timeout) or an exhausted connection pool says
nothing about the request that met it: the same request succeeds a little
later.  The web layer answers such errors 503 with ``Retry-After``, which every
fediverse sender retries, instead of a 500.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

RETRY_AFTER_SECONDS = 30

# SQLSTATEs of PostgreSQL errors that mean "busy, try again": lock_not_available,
# deadlock_detected, query_canceled (statement_timeout), too_many_connections,
# cannot_connect_now (starting up or shutting down).
_BUSY_SQLSTATES = frozenset({"55P03", "40P01", "57014", "53300", "57P03"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_database_busy(error: BaseException) -> bool:
    """Whether ``error`` (raised by SQLAlchemy) means the database is busy, not that the request is bad."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection became free in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    original = error.orig
    message = str(original).lower()
    if any(text in message for text in _SQLITE_BUSY):
        return True
    sqlstate = getattr(original, "sqlstate", None) or getattr(getattr(original, "__cause__", None), "sqlstate", None)
    return sqlstate in _BUSY_SQLSTATES
