"""The discussion of a page shown on that page: ``/embed.js``, ``/count.js`` and the framed thread.

A site adds one script tag (docs/embedding.md).  ``embed.js`` puts a frame of
``/embed/thread?url=<page>`` into the page; that URL looks the page up (the database only;
with ``embed_open_threads`` a first view of a page on an allowed site opens its link thread)
and sends the frame on to ``/embed/discussions/N``, the discussion rendered as on the node's
own page (the same cached rendering, ``node.web.discussion``) inside a frame's chrome: the
count, "reply from your server" and "sign in" open in a new tab, paging stays in the frame.
Its own URL keeps the relative links of the shared rendering (``?page=2``,
``?thread=<id>``) pointing at the frame.

Only the origins in ``embed_origins`` may frame these pages (their ``frame-ancestors``,
set in ``node.web.middleware``); the frame tells its parent its height with
``postMessage`` addressed to those origins only, and ``embed.js`` listens only to the
node's origin.  No cookie is set for a reader: the frame cannot rely on cookies anyway
(browsers partition or block third-party cookies), so signing in and writing happen on
the node's own pages, in a tab of their own.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from node.app import NODE
from node.db import queries
from node.discussions.resolve import DiscussionError
from node.discussions.service import check_rate, closed_reason_now, find, open_discussion
from node.embed_policy import ANY, allowed_origins, may_open
from node.web import pages
from node.web.discussions import document_or_404
from node.web.render import render, safe_href

STATIC = Path(__file__).parent / "static"
SCRIPT_MAX_AGE = 3600  # seconds a browser may keep embed.js and count.js before asking again


@lru_cache(maxsize=4)
def _script(name: str) -> tuple[bytes, str]:
    """The script's bytes and its ETag (read once per process)."""
    body = (STATIC / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _script_response(request: web.Request, name: str) -> web.Response:
    body, etag = _script(name)
    headers = {"Cache-Control": f"public, max-age={SCRIPT_MAX_AGE}", "ETag": etag}
    # Every page view of every embedding site asks again once the hour is over: a 304, not the script.
    if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="text/javascript", charset="utf-8", headers=headers)


async def embed_js(request: web.Request) -> web.Response:
    """``/embed.js``: the script a site includes where the discussion should appear."""
    return _script_response(request, "embed.js")


async def count_js(request: web.Request) -> web.Response:
    """``/count.js``: fills ``data-fednode-count`` links on index pages with their comment counts."""
    return _script_response(request, "count.js")


def _frame(request: web.Request) -> dict:
    """What every framed page needs: where it may post its height, and a theme the site forced (else the reader's)."""
    node = request.app[NODE]
    origins = allowed_origins(node.settings.embed_origins)
    theme = request.query.get("theme", "")
    return {
        # The frame posts its height to these origins only (postMessage's targetOrigin).
        "post_origins": "*" if ANY in origins else " ".join(origins),
        "theme": theme if theme in ("light", "dark") else "",
    }


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": settings.site_name, "site_handle": f"@{settings.site_username}@{settings.host}",
            **_frame(request)}


async def embed_thread(request: web.Request) -> web.Response:
    """``/embed/thread?url=<page>``: 303 to the page's framed discussion, or a frame saying there is none yet."""
    node = request.app[NODE]
    asked = request.query.get("url", "").strip()
    if not asked:
        return render("embed_missing.html", status=400, asked="", canonical=None, lookup_href=None,
                      error="the embed names no page: give data-url, or a <link rel=canonical>", **_common(request))
    try:
        async with node.sessions() as session:
            canonical, document = await find(session, asked)
            opening = document is None and node.settings.embed_open_threads and \
                may_open(canonical, allowed_origins(node.settings.embed_origins))
            if opening:
                site = await queries.get_local_actor(session, node.settings.site_username)
                if site is None:
                    raise DiscussionError("the site is not set up yet")
                try:
                    # Embeds open as the site Group, so discuss_opens_per_hour counts the Group's
                    # openings: however many new addresses of an allowed site are asked for, the
                    # node fetches at most that many pages an hour.
                    await check_rate(node, session, site)
                except DiscussionError:
                    limit = node.settings.discuss_opens_per_hour
                    return render("embed_missing.html", status=429, asked=asked, canonical=None, lookup_href=None,
                                  error=f"the embeds opened {limit} discussions in the last hour, the most this "
                                        f"forum allows; try again later", **_common(request))
        if opening:
            document = (await open_discussion(node, asked)).document
    except DiscussionError as exc:
        return render("embed_missing.html", status=400, asked=asked, canonical=None, lookup_href=None,
                      error=exc.reason, **_common(request))
    if document is None or document.thread_id is None:
        return render("embed_missing.html", status=404, asked=asked, canonical=canonical, error=None,
                      lookup_href="/discussions?" + urlencode({"url": canonical}), **_common(request))
    theme = _frame(request)["theme"]
    raise web.HTTPSeeOther(f"/embed/discussions/{document.id}" + (f"?theme={theme}" if theme else ""))


async def embed_discussion(request: web.Request) -> web.Response:
    """``/embed/discussions/N``: the discussion of a page as the frame shows it (``?page=``, ``?thread=`` as usual)."""
    document = await document_or_404(request)
    thread = document.thread
    closed = closed_reason_now(document.closed_reason, document.kind, thread.raw, thread.deleted_at is not None)
    own_page = f"/discussions/{document.id}"
    comment_form = own_page + "#comment-form"  # where a signed-in member writes (node/web/templates/article.html)
    return await pages.article(
        request, thread, template="embed.html", document=document, closed=closed,
        page_href=safe_href(document.canonical_url), full_href=own_page, comment_href=comment_form,
        login_href="/login?" + urlencode({"next": comment_form}), **_frame(request))
