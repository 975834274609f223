"""HTML pages for people: the index, an article with its discussion, profiles, tags."""

from __future__ import annotations

from aiohttp import web

from node.app import NODE
from node.db import queries
from node.db.models import Actor, Object
from node.threads import flatten
from node.web.render import render

INDEX_PAGE = 30


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": settings.site_name, "site_handle": f"@{settings.site_username}@{settings.host}"}


async def index(request: web.Request) -> web.Response:
    """The newest articles."""
    node = request.app[NODE]
    async with node.sessions() as session:
        articles = await queries.list_articles(session, limit=INDEX_PAGE)
    items = [{"article": a, "author": a.actor} for a in articles]
    return render("index.html", articles=items, heading="Articles", **_common(request))


async def tag(request: web.Request) -> web.Response:
    """Articles carrying one hashtag (the target of each Hashtag ``href``)."""
    node = request.app[NODE]
    wanted = request.match_info["name"].lower()
    async with node.sessions() as session:
        articles = await queries.list_articles(session, limit=500)
    items = [{"article": a, "author": a.actor} for a in articles if wanted in (t.lower() for t in a.tags or [])]
    return render("index.html", articles=items, heading=f"#{wanted}", **_common(request))


async def article(request: web.Request, obj: Object) -> web.Response:
    """An article and its whole discussion, nested and numbered."""
    node = request.app[NODE]
    async with node.sessions() as session:
        comments = [c for c in await queries.list_thread(session, obj.id) if c.visibility in ("public", "unlisted")]
    rows = flatten(comments, obj.ap_id)
    return render(
        "article.html", article=obj, author=obj.actor, rows=rows, lang=obj.language or "en",
        headers={"Vary": "Accept"}, **_common(request),
    )


async def profile(request: web.Request, actor: Actor) -> web.Response:
    """A local actor's page: who they are and what they published."""
    node = request.app[NODE]
    # Filter in SQL: the 200 newest of the whole site may hold none of this author's.
    author_id = actor.id if actor.ap_type == "Person" else None
    async with node.sessions() as session:
        articles = await queries.list_articles(session, actor_id=author_id, limit=200)
    kind = {"Group": "the forum", "Person": "author"}.get(actor.ap_type, actor.ap_type)
    return render("profile.html", actor=actor, articles=articles, kind=kind, headers={"Vary": "Accept"}, **_common(request))


async def profile_by_handle(request: web.Request) -> web.Response:
    """``/@username``: the profile page (Mastodon's URL shape)."""
    node = request.app[NODE]
    async with node.sessions() as session:
        actor = await queries.get_local_actor(session, request.match_info["username"])
    if actor is None or actor.ap_type == "Application":
        raise web.HTTPNotFound()
    return await profile(request, actor)


async def authorize_interaction(request: web.Request) -> web.Response:
    """Where remote-follow templates land; this node has no accounts to act from."""
    return render("interaction.html", uri=request.query.get("uri", ""), **_common(request))
