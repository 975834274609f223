"""Handlers for ActivityStreams documents: actors, articles, comments, collections, activities.

URLs that people also open in a browser (actors, articles, comments) are
content-negotiated here and handed to ``pages`` for HTML.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from node.app import NODE, Node
from node.db import queries
from node.db.models import Object
from node.federation import convert
from node.federation.actor_updates import local_actor_document
from node.federation.vocab import ACTIVITY_JSON
from node.urls import INSTANCE_ACTOR_USERNAME
from node.web import pages, params
from node.web.negotiate import wants_activity_json

OUTBOX_PAGE = 20
FOLLOW_PAGE = 40
REPLIES_PAGE = 60  # Mastodon's DESCENDANTS_LIMIT
CONTEXT_PAGE = 60


def ap_response(data: dict[str, Any], *, status: int = 200) -> web.Response:
    """An ActivityStreams JSON response that says it depends on Accept."""
    return web.json_response(
        data, status=status, content_type=ACTIVITY_JSON, headers={"Vary": "Accept"}
    )


def _page_number(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    if raw == "true":  # Mastodon-style ?page=true means the first page
        return 1
    number = params.ascii_number(raw, maximum=params.MAX_PAGE)
    if number is None or number < 1:
        raise web.HTTPBadRequest(text='{"error": "page must be a number from 1 to 100000"}', content_type="application/json")
    return number


async def paged_collection(
    request: web.Request,
    collection_id: str,
    total: int,
    page_size: int,
    load_page: Callable[[int, int], Awaitable[list[Any]]],
    *,
    attributed_to: str | None = None,
) -> web.Response:
    """Serve an OrderedCollection (no ?page) or one of its pages (?page=N, 1-based).

    ``attributed_to`` names the collection's owner (FEP-11dd: a thread's ``context`` declares one).
    """
    page = _page_number(request)
    last = max(1, -(-total // page_size))
    if page is None:
        document = convert.ordered_collection(
            collection_id, total, first=f"{collection_id}?page=1", last=f"{collection_id}?page={last}",
        )
        if attributed_to:
            document["attributedTo"] = attributed_to
        return ap_response(document)
    items = await load_page(page_size, (page - 1) * page_size)
    return ap_response(convert.collection_page(
        f"{collection_id}?page={page}", collection_id, items,
        next_page=f"{collection_id}?page={page + 1}" if page < last else None,
        prev_page=f"{collection_id}?page={page - 1}" if page > 1 else None,
        total=total,
    ))


async def _local_actor_or_404(node: Node, username: str):
    async with node.sessions() as session:
        actor = await queries.get_local_actor(session, username)
    if actor is None:
        raise web.HTTPNotFound()
    return actor


async def actor(request: web.Request) -> web.Response:
    """A local actor: its document for servers, its profile page for browsers."""
    node = request.app[NODE]
    username = request.match_info.get("username", INSTANCE_ACTOR_USERNAME)
    local = await _local_actor_or_404(node, username)
    if wants_activity_json(request) or local.ap_type == "Application":
        async with node.sessions() as session:
            return ap_response(await local_actor_document(node, session, local))
    if local.deleted_at is not None:
        raise web.HTTPGone()
    return await pages.profile(request, local)


async def outbox(request: web.Request) -> web.Response:
    """The actor's outbox: its Create activities (articles, and a member's comments), newest first.

    The site Group's outbox lists every article of the site (it is the forum's front page).
    Held, followers-only and deleted comments are not listed.
    """
    node = request.app[NODE]
    local = await _local_actor_or_404(node, request.match_info.get("username", INSTANCE_ACTOR_USERNAME))
    kind = None
    async with node.sessions() as session:
        if local.ap_type == "Group":
            authors = [a.ap_id for a in await queries.list_local_actors(session, "Person")]
            kind = "article"
        else:
            authors = [local.ap_id]
        total = await queries.count_outbox(session, authors, kind=kind)
        site = await queries.get_local_actor(session, node.settings.site_username)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            rows = await queries.list_outbox(session, authors, limit=limit, offset=offset, kind=kind)
            return [
                convert.create_to_ap(activity, (convert.article_to_ap if obj.kind == "article" else convert.comment_to_ap)(
                    obj, obj.actor, site, node.urls))
                for activity, obj in rows
            ]

    return await paged_collection(request, local.outbox, total, OUTBOX_PAGE, load)


async def follow_collection(request: web.Request) -> web.Response:
    """Followers and following: paged collections with real totals."""
    node = request.app[NODE]
    # The instance actor lives at /actor, so its collections' routes carry no username.
    local = await _local_actor_or_404(node, request.match_info.get("username", INSTANCE_ACTOR_USERNAME))
    which = request.match_info["which"]
    collection_id = local.followers if which == "followers" else local.following
    async with node.sessions() as session:
        total = await queries.count_follows(session, local.id, which)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            return list(await queries.list_follow_ids(session, local.id, which, limit=limit, offset=offset))

    return await paged_collection(request, collection_id, total, FOLLOW_PAGE, load)


async def _object_or_error(node: Node, ap_id: str) -> Object:
    async with node.sessions() as session:
        obj = await queries.get_object(session, ap_id)
    if obj is None or not obj.is_local:
        raise web.HTTPNotFound()
    return obj


async def _render_object(request: web.Request, obj: Object) -> web.Response:
    node = request.app[NODE]
    if wants_activity_json(request):
        if obj.deleted_at is not None:
            return ap_response(convert.tombstone_to_ap(obj), status=410)
        if obj.visibility not in ("public", "unlisted"):
            raise web.HTTPNotFound()
        async with node.sessions() as session:
            site = await queries.get_local_actor(session, node.settings.site_username)
        to_ap = convert.article_to_ap if obj.kind == "article" else convert.comment_to_ap
        return ap_response(to_ap(obj, obj.actor, site, node.urls))
    if obj.deleted_at is not None:
        raise web.HTTPGone()
    if obj.kind == "article":
        return await pages.article(request, obj)
    return web.HTTPFound(f"{obj.url or obj.ap_id}")


async def article(request: web.Request) -> web.Response:
    """An article at its canonical URL (Article JSON or the HTML page with its discussion)."""
    node = request.app[NODE]
    obj = await _object_or_error(node, node.urls.article(request.match_info["slug"]))
    return await _render_object(request, obj)


async def comment(request: web.Request) -> web.Response:
    """A comment written on this node (Note JSON; browsers go to its place in the thread)."""
    node = request.app[NODE]
    obj = await _object_or_error(node, node.urls.comment(params.row_id(request.match_info["comment_id"])))
    if not wants_activity_json(request) and obj.deleted_at is None:
        async with node.sessions() as session:
            target = await pages.comment_url(session, obj, page_size=node.settings.discussion_page_size)
        if target is not None:
            raise web.HTTPFound(target)
    return await _render_object(request, obj)


async def replies(request: web.Request) -> web.Response:
    """The ``replies`` collection of a local article or comment: public direct replies, oldest first."""
    node = request.app[NODE]
    if "slug" in request.match_info:
        parent = node.urls.article(request.match_info["slug"])
    else:
        parent = node.urls.comment(params.row_id(request.match_info["comment_id"]))
    obj = await _object_or_error(node, parent)
    if obj.deleted_at is not None:
        return ap_response(convert.tombstone_to_ap(obj), status=410)
    async with node.sessions() as session:
        total = await queries.count_replies(session, obj.ap_id)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            return [r.ap_id for r in await queries.list_replies(session, obj.ap_id, limit=limit, offset=offset)]

    return await paged_collection(request, node.urls.replies(obj.ap_id), total, REPLIES_PAGE, load)


async def context(request: web.Request) -> web.Response:
    """The thread's ``context`` collection (FEP-7888/f228): the article then its comments, in order."""
    node = request.app[NODE]
    root = await _object_or_error(node, node.urls.article(request.match_info["slug"]))
    if root.deleted_at is not None:
        return ap_response(convert.tombstone_to_ap(root), status=410)
    async with node.sessions() as session:
        total = await queries.count_context(session, root)

    async def load(limit: int, offset: int) -> list[Any]:
        async with node.sessions() as session:
            return [o.ap_id for o in await queries.list_context(session, root, limit=limit, offset=offset)]

    return await paged_collection(request, node.urls.context(root.ap_id), total, CONTEXT_PAGE, load,
                                  attributed_to=root.actor.ap_id)


async def activity(request: web.Request) -> web.Response:
    """An activity this node sent, at its id."""
    node = request.app[NODE]
    async with node.sessions() as session:
        found = await queries.get_activity(session, node.urls.activity(request.match_info["key"]))
    if found is None or not found.is_local:
        raise web.HTTPNotFound()
    return ap_response(found.raw)
