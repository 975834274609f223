"""Atom feeds: the site's new articles, the new comments of one thread, one member's comments.

``/feeds/articles.atom``, ``/feeds/threads/<id>.atom`` and ``/feeds/members/<username>.atom``;
the pages they follow name them in ``<link rel="alternate" type="application/atom+xml">``.
Each is a bounded read of the newest rows (``FEED_ENTRIES``), with only what the public
pages show: no held, followers-only, deleted or removed comment ever appears.  Answers
carry an ``ETag`` so a reader polling an unchanged feed gets a bodiless 304.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from node.api import atom
from node.api.thread_json import Thread
from node.app import NODE
from node.db import api as db
from node.db import discussion as discussion_db
from node.db import queries
from node.db.models import Object
from node.db.types import utcnow
from node.web import params
from node.web.discussion import content_warning
from node.web.render import safe_href
from node import site

FEED_ENTRIES = 50
CACHE = "public, max-age=60"
# Nothing in a feed runs: if a browser shows one, it shows inert XML.
FEED_CSP = "default-src 'none'; sandbox"


def _respond(request: web.Request, feed: atom.Feed) -> web.Response:
    body = atom.render(feed)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE, "Content-Security-Policy": FEED_CSP,
               "Access-Control-Allow-Origin": "*"}
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=atom.MEDIA_TYPE, charset="utf-8", headers=headers)


def _author(actor) -> atom.Author:
    return atom.Author(actor.name or actor.username, safe_href(actor.url) or safe_href(actor.ap_id))


def _comment_entry(comment: Object, thread: Thread, urls, thread_title: str) -> atom.Entry:
    author = _author(comment.actor)
    return atom.Entry(
        id=comment.ap_id, title=f"{author.name} on “{thread_title}”",
        link=f"{thread.html_url(urls)}?thread={comment.id}#c-{comment.id}",
        published=comment.published, updated=comment.updated or comment.published, author=author,
        content_html=comment.content or "", summary=content_warning(comment),
    )


def _title(thread: Thread) -> str:
    document, root = thread.document, thread.root
    return (document.title if document is not None else None) or root.name or \
        (document.canonical_url if document is not None else None) or f"a post by {root.actor.name or root.actor.username}"


async def articles(request: web.Request) -> web.Response:
    """``/feeds/articles.atom``: the site's newest articles, whole."""
    node = request.app[NODE]
    settings, urls = node.settings, node.urls
    async with node.sessions() as session:
        rows = await queries.list_articles(session, limit=FEED_ENTRIES)
    entries = [atom.Entry(
        id=a.ap_id, title=a.name or a.ap_id, link=a.url or a.ap_id, published=a.published,
        updated=a.updated or a.published, author=_author(a.actor), content_html=a.content or "", summary=a.summary,
    ) for a in rows]
    return _respond(request, atom.Feed(
        id=f"{urls.base}/feeds/articles.atom", title=site.current(node).name, subtitle=site.current(node).summary,
        self_url=f"{urls.base}/feeds/articles.atom", alternate=f"{urls.base}/",
        updated=max((e.updated for e in entries), default=utcnow()), entries=entries))


async def thread_comments(request: web.Request) -> web.Response:
    """``/feeds/threads/<id>.atom``: the newest comments of one thread (an article, a discussed page)."""
    node = request.app[NODE]
    urls = node.urls
    root_id = params.row_id(request.match_info["object_id"])
    async with node.sessions() as session:
        root = await queries.get_object_by_id(session, root_id)
        if root is None or root.kind != "article" or root.visibility not in ("public", "unlisted"):
            raise web.HTTPNotFound(reason="No such thread")
        documents = await db.documents_of_threads(session, [root.id])
        thread = Thread(root, documents.get(root.id))
        if root.deleted_at is not None and thread.document is None:
            raise web.HTTPNotFound(reason="This article was deleted")
        comments = await db.list_thread_comments(session, root.id, limit=FEED_ENTRIES)
    title = _title(thread)
    entries = [_comment_entry(c, thread, urls, title) for c in comments]
    self_url = f"{urls.base}/feeds/threads/{root.id}.atom"
    return _respond(request, atom.Feed(
        id=self_url, title=f"Comments on “{title}”", self_url=self_url, alternate=thread.html_url(urls),
        updated=max((e.updated for e in entries), default=root.published), entries=entries))


async def member_comments(request: web.Request) -> web.Response:
    """``/feeds/members/<username>.atom``: one local person's newest public comments, in any thread."""
    node = request.app[NODE]
    urls = node.urls
    async with node.sessions() as session:
        actor = await queries.get_local_actor(session, request.match_info["username"])
        if actor is None or actor.ap_type != "Person":
            raise web.HTTPNotFound(reason="No such member")
        comments = await db.list_actor_comments(session, actor.id, limit=FEED_ENTRIES)
        roots = await discussion_db.list_objects(session, sorted({c.root_id for c in comments if c.root_id}))
        documents = await db.documents_of_threads(session, roots)
    entries = []
    for comment in comments:
        root = roots.get(comment.root_id)
        if root is None or root.visibility not in ("public", "unlisted"):
            continue  # a comment in a thread the public pages do not show
        thread = Thread(root, documents.get(root.id))
        entries.append(_comment_entry(comment, thread, urls, _title(thread)))
    self_url = f"{urls.base}/feeds/members/{actor.username}.atom"
    name = actor.name or actor.username
    return _respond(request, atom.Feed(
        id=self_url, title=f"Comments by {name} (@{actor.handle})", self_url=self_url,
        alternate=urls.profile(actor.username),
        updated=max((e.updated for e in entries), default=actor.created_at), entries=entries))
