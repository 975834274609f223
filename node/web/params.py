"""Reading numbers out of URLs: ASCII digits of a bounded length, or a 4xx.

``str.isdigit()`` accepts "²" and "٣", which ``int()`` refuses or reads as
another number, and ``int()`` refuses more than 4,300 digits; a number that
fits neither SQLite's nor PostgreSQL's 64-bit integer makes the database
driver raise.  Every number a handler takes from a path or a query goes
through here, so none of these can become a 500.
"""

from __future__ import annotations

from aiohttp import web

MAX_PAGE = 100_000
MAX_ROW_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) store


def ascii_number(raw: str | None, *, maximum: int) -> int | None:
    """``raw`` as an int when it is 1-19 ASCII digits worth at most ``maximum``, else None."""
    if not raw or len(raw) > 19 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= maximum else None


def page_number(raw: str | None, default: int = 1) -> int:
    """A ``?page=`` value: 1..MAX_PAGE, the default when absent; HTTPBadRequest otherwise."""
    if raw is None:
        return default
    value = ascii_number(raw, maximum=MAX_PAGE)
    if value is None or value < 1:
        raise web.HTTPBadRequest(reason="page must be a number from 1 to 100000")
    return value


def row_id(raw: str) -> int:
    """A database id from the path; HTTPNotFound for anything no row can have."""
    value = ascii_number(raw, maximum=MAX_ROW_ID)
    if value is None or value < 1:
        raise web.HTTPNotFound()
    return value
