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
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from node.api import find
from node.app import NODE
from node.db import queries
from node.discussions.resolve import DiscussionError
from node.discussions.service import check_rate, closed_reason_now, open_discussion
from node.embed_policy import ANY, allowed_origins, may_open
from node.web import pages, params
from node.web.discussions import document_or_404
from node.web.render import render, safe_href
from node import site

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
    return {"site_name": site.current(request.app[NODE]).name, "site_handle": f"@{settings.site_username}@{settings.host}",
            **_frame(request)}


async def embed_thread(request: web.Request) -> web.Response:
    """``/embed/thread?url=<page>``: 303 to the page's framed discussion, or a frame saying there is none yet.

    The page is found as the read API finds it (``node.api.find.find_by_url``): the discussion
    filed under any alias of its address, else an article this node holds at that address (its
    own, or a post of a followed site: a blog with an ActivityPub plugin that the forum follows).
    """
    node = request.app[NODE]
    asked = request.query.get("url", "").strip()
    if not asked:
        return _missing(request, 400, asked, error="the embed names no page: give data-url, or a <link rel=canonical>")
    try:
        async with node.sessions() as session:
            thread = await find.find_by_url(node, session, asked)
    except find.Refused as refused:
        canonical = refused.extra.get("canonical")
        if refused.status != 404 or canonical is None:
            return _missing(request, 400 if refused.status != 404 else 404, asked, error=refused.reason)
        if not (node.settings.embed_open_threads and may_open(canonical, allowed_origins(node.settings.embed_origins))):
            return _missing(request, 404, asked, canonical=canonical)
        try:
            document = await _open(node, asked)
        except OpeningLimited as limited:
            return _missing(request, 429, asked, error=str(limited))
        except DiscussionError as exc:
            return _missing(request, 400, asked, error=exc.reason)
        raise _to_frame(request, f"/embed/discussions/{document.id}")
    if thread.document is not None:
        raise _to_frame(request, f"/embed/discussions/{thread.document.id}")
    raise _to_frame(request, f"/embed/threads/{thread.root.id}")


def _to_frame(request: web.Request, path: str) -> web.HTTPSeeOther:
    """The redirect to a framed thread, keeping a theme the site chose."""
    theme = _frame(request)["theme"]
    return web.HTTPSeeOther(path + (f"?theme={theme}" if theme else ""))


def _missing(request: web.Request, status: int, asked: str, *, canonical: str | None = None,
             error: str | None = None) -> web.Response:
    """The frame for a page without a discussion (an offer to open one), or for one that cannot have one (why)."""
    lookup = "/discussions?" + urlencode({"url": canonical}) if canonical and error is None else None
    return render("embed_missing.html", status=status, asked=asked, canonical=canonical, error=error,
                  lookup_href=lookup, **_common(request))


class OpeningLimited(Exception):
    """The embeds opened ``discuss_opens_per_hour`` discussions in the last hour."""


async def _open(node, url: str):
    """Open the discussion of ``url`` for a first view, as the site Group; its document.

    Embeds open as the site Group, so ``discuss_opens_per_hour`` counts the Group's openings:
    however many new addresses of an allowed site are asked for, the node fetches at most that
    many pages an hour.
    """
    async with node.sessions() as session:
        site = await queries.get_local_actor(session, node.settings.site_username)
        if site is None:
            raise DiscussionError("the site is not set up yet")
        try:
            await check_rate(node, session, site)
        except DiscussionError:
            limit = node.settings.discuss_opens_per_hour
            raise OpeningLimited(f"the embeds opened {limit} discussions in the last hour, the most this "
                                 f"forum allows; try again later") from None
    return (await open_discussion(node, url)).document


async def embed_article(request: web.Request) -> web.Response:
    """``/embed/threads/N``: an article this node holds (its own, or a followed site's post) and its discussion, framed."""
    node = request.app[NODE]
    async with node.sessions() as session:
        article = await queries.get_object_by_id(session, params.row_id(request.match_info["object_id"]))
    if article is None or article.kind != "article" or article.visibility not in ("public", "unlisted"):
        raise web.HTTPNotFound()
    if article.deleted_at is not None:
        raise web.HTTPGone()
    # Where people read it on the node: an article of ours at its own URL, a followed site's at /threads/N.
    own_page = urlsplit(article.url).path if article.is_local and article.url else f"/threads/{article.id}"
    return await _framed(request, article, None, None, own_page)


async def embed_discussion(request: web.Request) -> web.Response:
    """``/embed/discussions/N``: the discussion of a page as the frame shows it (``?page=``, ``?thread=`` as usual)."""
    document = await document_or_404(request)
    thread = document.thread
    closed = closed_reason_now(document.closed_reason, document.kind, thread.raw, thread.deleted_at is not None)
    return await _framed(request, thread, document, closed, f"/discussions/{document.id}")


async def _framed(request: web.Request, thread, document, closed: str | None, own_page: str) -> web.Response:
    """A thread in the frame: the discussion pages' cached rendering (``pages.article``) in the frame's template."""
    comment_form = own_page + "#comment-form"  # where a signed-in member writes (node/web/templates/article.html)
    return await pages.article(
        request, thread, template="embed.html", document=document, closed=closed,
        page_href=safe_href(document.canonical_url if document is not None else thread.url), full_href=own_page,
        comment_href=comment_form,
        login_href="/login?" + urlencode({"next": comment_form}), **_frame(request))
