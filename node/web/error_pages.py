"""The pages a browser gets for errors: styled like the rest of the site, saying what happened in plain words.

Servers asking for JSON get JSON (``node.web.middleware``); this is the HTML side.
A reason we chose (``raise web.HTTPNotFound(reason=...)``) is shown as the detail;
the standard phrase ("Not Found") is not repeated.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

from node.app import NODE
from node.web.render import render
from node import site

TITLES = {
    400: ("This address is not understood", "Something in the address or the form could not be read."),
    403: ("Not allowed", "This site does not allow that."),
    404: ("Page not found", "Nothing is here. The link may be mistyped, or what it pointed to was never on this site."),
    405: ("Not allowed", "This address does not answer that kind of request."),
    410: ("Deleted", "What was here has been deleted by its author."),
    413: ("Too large", "What was sent is larger than this site accepts."),
    429: ("Too many requests", "Please wait a minute and try again."),
}
SERVER_ERROR = ("Something went wrong on this site", "Please try again in a moment.")


def error_page(request: web.Request, status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """A styled HTML page for ``status``, with ``reason`` as its detail when it is more than the standard phrase."""
    title, explanation = TITLES.get(status) or (SERVER_ERROR if status >= 500 else (reason, ""))
    try:
        standard = HTTPStatus(status).phrase
    except ValueError:
        standard = ""
    detail = reason if reason and reason != standard and reason != title else None
    node = request.app.get(NODE)
    site_name = site.current(node).name if node is not None else "Fednode"
    site_handle = f"@{node.settings.site_username}@{node.settings.host}" if node is not None else ""
    return render("error.html", status=status, headers=headers, code=status, title=title, explanation=explanation,
                  detail=detail, site_name=site_name, site_handle=site_handle)
