"""Discussions of any page over HTTP: look a URL up (HTML and a JSON twin for embeds), read a discussion.

Looking up only reads the database: a reader's lookup never makes the node fetch the page
(that is what opening does, for members and the operator).  The JSON twin answers any origin
(CORS), so a browser extension or an embed on the page itself can ask for its thread.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.app import NODE
from node.db import discussions as db
from node.db import queries
from node.db.models import DiscussionDocument, Object
from node.discussions.convert import link_thread_to_ap
from node.discussions.canonical import lookup_keys
from node.discussions.resolve import DiscussionError, requested_form
from node.discussions.service import closed_reason_now, find, open_discussion
from node.federation import convert
from node.web import pages
from node.web.csrf import checked_form
from node.web.guards import require_member
from node.web.ap import CONTEXT_PAGE, REPLIES_PAGE, ap_response, paged_collection
from node.web.negotiate import wants_activity_json
from node.web.render import render, safe_href
from node import site

RECENT = 20
CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": site.current(request.app[NODE]).name, "site_handle": f"@{settings.site_username}@{settings.host}"}


async def _recent(node, session) -> list[dict[str, Any]]:
    """The recently discussed pages the lookup page lists."""
    documents = await db.list_documents(session, limit=RECENT)
    counts = await db.count_comments_many(session, [d.thread_id for d in documents if d.thread_id])
    return [{"document": d, "href": node.urls.discussion(d.id), "comments": counts.get(d.thread_id, 0)}
            for d in documents]


async def lookup_page(request: web.Request) -> web.Response:
    """``/discussions?url=…``: the discussion of a page (a redirect to it), or 404 with an offer to open one."""
    node = request.app[NODE]
    asked = request.query.get("url", "").strip()
    async with node.sessions() as session:
        recent = await _recent(node, session)
        if not asked:
            return render("discussions.html", asked="", error=None, canonical=None, recent=recent, **_common(request))
        try:
            canonical, document = await find(session, asked)
        except DiscussionError as exc:
            return render("discussions.html", status=400, asked=asked, error=exc.reason, canonical=None,
                          recent=recent, **_common(request))
    if document is not None:
        raise web.HTTPSeeOther(node.urls.discussion(document.id))
    return render("discussions.html", status=404, asked=asked, error=None, canonical=canonical, recent=recent,
                  **_common(request))


async def open_submit(request: web.Request) -> web.Response:
    """``POST /discussions``: a signed-in member opens the discussion of a page (or finds the one that exists).

    The page is fetched once (``node.discussions.service.open_discussion``: guarded fetch,
    canonical URL, aliases), at most ``discuss_opens_per_hour`` times an hour per member;
    then 303 to the discussion, where the member can comment at once.
    """
    member = require_member(request)
    form = await checked_form(request)
    node = request.app[NODE]
    asked = form.get("url", "")
    asked = asked.strip() if isinstance(asked, str) else ""
    async with node.sessions() as session:
        opener = await queries.get_actor(session, member.actor_ap_id)
    try:
        if not asked:
            raise DiscussionError("give the address of the page to discuss")
        opened = await open_discussion(node, asked, opener=opener)
    except DiscussionError as exc:
        async with node.sessions() as session:
            recent = await _recent(node, session)
        return render("discussions.html", status=400, asked=asked, error=exc.reason, canonical=None,
                      recent=recent, **_common(request))
    raise web.HTTPSeeOther(node.urls.discussion(opened.document.id) + ("#comment-form" if opened.created else ""))


async def lookup_json(request: web.Request) -> web.Response:
    """``/discussions.json?url=…``: the same lookup as JSON, for any origin."""
    node = request.app[NODE]
    asked = request.query.get("url", "").strip()
    if not asked:
        return web.json_response({"error": "give the page's address as ?url="}, status=400, headers=CORS)
    try:
        canonical = requested_form(asked)
    except DiscussionError as exc:
        return web.json_response({"error": exc.reason}, status=400, headers=CORS)
    async with node.sessions() as session:
        found = await db.find_summary(session, lookup_keys(canonical))
        aliases = list(await db.list_aliases(session, found["id"])) if found is not None else []
    if found is None:
        return web.json_response({
            "error": "no discussion of this page yet", "canonical": canonical,
            "open": "members open discussions from the site; the operator with `fednode discuss URL`",
        }, status=404, headers=CORS)
    return web.json_response({"canonical": canonical, "discussion": describe(node, found, aliases)}, headers=CORS)


def describe(node, found: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    """What the JSON lookup says about a document (a ``find_summary`` row) and its thread."""
    closed = closed_reason_now(found["closed_reason"], found["kind"], found["thread_raw"],
                               found["thread_deleted_at"] is not None)
    return {
        "page": node.urls.discussion(found["id"]),
        "id": found["thread_ap_id"],
        "kind": found["kind"],
        "url": found["canonical_url"],
        "aliases": aliases,
        "title": found["title"],
        "site_name": found["site_name"],
        "description": found["description"],
        "comments": int(found["comments"] or 0),
        "closed_at_source": closed is not None,
        "closed_reason": closed,
    }


async def document_or_404(request: web.Request) -> DiscussionDocument:
    node = request.app[NODE]
    raw_id = request.match_info["document_id"]
    if len(raw_id) > 12:  # past any row id, and past what the database's integer holds
        raise web.HTTPNotFound()
    async with node.sessions() as session:
        document = await db.get_document(session, int(raw_id))
    if document is None or document.thread is None:
        raise web.HTTPNotFound()
    return document


async def discussion(request: web.Request) -> web.Response:
    """``/discussions/N``: our link thread as a ``Page`` for servers; the page and its thread for people."""
    node = request.app[NODE]
    document = await document_or_404(request)
    thread = document.thread
    if wants_activity_json(request):
        if document.kind != "link" or not thread.is_local:
            # Not ours: its own server serves it.
            raise web.HTTPFound(thread.ap_id)
        if thread.deleted_at is not None:
            return ap_response(convert.tombstone_to_ap(thread), status=410)
        async with node.sessions() as session:
            site = await queries.get_local_actor(session, node.settings.site_username)
        return ap_response(link_thread_to_ap(thread, document, thread.actor, site, node.urls))
    async with node.sessions() as session:
        # A link thread's ``url`` is the page it discusses: link its id, which serves the thread's own page.
        others = [{"href": safe_href(t.object.ap_id), "where": t.object.actor.domain}
                  for t in await db.list_threads(session, document.id) if t.object_id != thread.id]
    closed = closed_reason_now(document.closed_reason, document.kind, thread.raw, thread.deleted_at is not None)
    return await pages.article(request, thread, template="discussion.html", document=document, closed=closed,
                               page_href=safe_href(document.canonical_url), others=[o for o in others if o["href"]])


async def _local_link_thread(request: web.Request) -> Object:
    document = await document_or_404(request)
    if document.kind != "link" or not document.thread.is_local:
        raise web.HTTPNotFound()
    return document.thread


async def replies(request: web.Request) -> web.Response:
    """The link thread's ``replies``: public direct replies, oldest first."""
    node = request.app[NODE]
    thread = await _local_link_thread(request)
    async with node.sessions() as session:
        total = await queries.count_replies(session, thread.ap_id)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            return [r.ap_id for r in await queries.list_replies(session, thread.ap_id, limit=limit, offset=offset)]

    return await paged_collection(request, node.urls.replies(thread.ap_id), total, REPLIES_PAGE, load)


async def context(request: web.Request) -> web.Response:
    """The link thread's ``context`` collection (FEP-7888/f228): the thread, then its comments in order."""
    node = request.app[NODE]
    thread = await _local_link_thread(request)
    async with node.sessions() as session:
        total = await queries.count_context(session, thread)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            return [o.ap_id for o in await queries.list_context(session, thread, limit=limit, offset=offset)]

    return await paged_collection(request, node.urls.context(thread.ap_id), total, CONTEXT_PAGE, load,
                                  attributed_to=thread.actor.ap_id)
