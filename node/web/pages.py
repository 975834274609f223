"""HTML pages for people: the index, an article with its discussion, profiles, tags."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.app import NODE
from node.db import discussion as db_discussion
from node.db import avatars as db_avatars
from node.db import member_state, queries
from node.db.models import Actor, Object
from node.services import tags
from node.web import discussion, member_view, params
from node.web.csrf import csrf_token
from node.web.render import render
from node.web.request_keys import MEMBER
from node import site

INDEX_PAGE = 30
PROFILE_COMMENTS = 30  # a member's newest comments on their profile page
PAGE_CACHE = web.AppKey("discussion_page_cache", discussion.PageCache)
MEMBER_STATES = web.AppKey("member_thread_states", member_view.StateCache)


def _common(request: web.Request) -> dict:
    node = request.app[NODE]
    settings = node.settings
    return {"site_name": site.current(node).name, "site_handle": f"@{settings.site_username}@{settings.host}"}


async def index(request: web.Request) -> web.Response:
    """The newest articles, ``INDEX_PAGE`` a page (``?page=2`` for older ones)."""
    node = request.app[NODE]
    number = _page_number(request)
    async with node.sessions() as session:
        articles = await queries.list_articles(session, limit=INDEX_PAGE + 1, offset=(number - 1) * INDEX_PAGE)
        affiliated = await queries.list_remote_articles(session, limit=INDEX_PAGE) if number == 1 else []
        counts = await request.app[PAGE_CACHE].comment_counts(session, [a.id for a in (*articles[:INDEX_PAGE], *affiliated)])
    if number > 1 and not articles:
        raise web.HTTPNotFound(reason=f"There is no page {number} of articles.")
    items = [{"article": a, "author": a.actor, "href": a.url, "comments": counts[a.id]} for a in articles[:INDEX_PAGE]]
    remote = [{"article": a, "author": a.actor, "href": node.urls.thread(a.id), "comments": counts[a.id]} for a in affiliated]
    return render("index.html", articles=items, affiliated=remote, heading="Articles",
                  pages=ListPages(number, len(articles) > INDEX_PAGE), **_common(request))


async def remote_thread(request: web.Request) -> web.Response:
    """An article from a site we follow, with the discussion as this node holds it."""
    node = request.app[NODE]
    async with node.sessions() as session:
        obj = await queries.get_object_by_id(session, params.row_id(request.match_info["object_id"]))
    if obj is None or obj.kind != "article" or obj.is_local or obj.visibility not in ("public", "unlisted"):
        raise web.HTTPNotFound()
    if obj.deleted_at is not None:
        raise web.HTTPGone()
    return await article(request, obj)


async def tag(request: web.Request) -> web.Response:
    """Articles carrying one hashtag (the target of each Hashtag ``href``), ``INDEX_PAGE`` a page."""
    node = request.app[NODE]
    wanted = request.match_info["name"].lower()
    number = _page_number(request)
    async with node.sessions() as session:
        found = await tags.tagged_articles(session, wanted, skip=(number - 1) * INDEX_PAGE, limit=INDEX_PAGE)
        counts = await request.app[PAGE_CACHE].comment_counts(session, [a.id for a in found.articles])
    if not found.articles:
        # The reason goes into the status line: name the tag only when it is plain ASCII.
        named = f"#{wanted}" if re.fullmatch(r"[a-z0-9_]{1,60}", wanted) else "this tag"
        raise web.HTTPNotFound(reason=f"No article here is tagged {named}." if number == 1
                               else f"There is no page {number} of articles tagged {named}.")
    items = [{"article": a, "author": a.actor, "href": a.url, "comments": counts[a.id]} for a in found.articles]
    return render("index.html", articles=items, affiliated=[], heading=f"#{wanted}",
                  pages=ListPages(number, found.has_older), **_common(request))


@dataclass(frozen=True)
class ListPages:
    """Where a page of a newest-first list is: its number, and whether older entries follow."""

    number: int
    has_older: bool


def _page_number(request: web.Request) -> int:
    return params.page_number(request.query.get("page"))


def _thread_anchor(request: web.Request) -> int | None:
    """The comment of a "continue this thread" page (``?thread=<comment id>``), or None for the whole discussion."""
    raw = request.query.get("thread")
    if raw is None:
        return None
    value = params.ascii_number(raw, maximum=params.MAX_ROW_ID)
    if value is None or value < 1:
        raise web.HTTPBadRequest(reason="thread must be a comment number")
    return value


async def article(request: web.Request, obj: Object, *, template: str = "article.html", **extra) -> web.Response:
    """An article and one page of its discussion (``?page=N``; ``?thread=<id>`` for one comment's thread).

    The discussion is read a bounded page at a time and cached until the thread
    changes (``node.web.discussion``).  ``template`` and ``extra`` let a page that
    shows a thread with more around it (the discussion of a web page,
    node.web.discussions) reuse the same thread rendering.
    """
    node = request.app[NODE]
    page_number = _page_number(request)
    anchor_id = _thread_anchor(request)
    member = request.get(MEMBER)
    page = await discussion.rendered_page(
        request.app[PAGE_CACHE], node.sessions, obj, anchor_id, page_number,
        page_size=node.settings.discussion_page_size, member_view=member is not None)
    if page is None:
        raise web.HTTPNotFound(reason="No such page of this discussion")
    state = None
    async with node.sessions() as session:
        waiting = await db_discussion.count_waiting(session, obj)
        if member is not None:
            state = await request.app[MEMBER_STATES].get(
                (member.actor_id, obj.id, page.version, member.follows),
                lambda: member_state.thread_state(session, member.actor_id, obj.id))
    html = page.html
    if state is not None:  # the shared rendering, with this member's own buttons filled in
        html = member_view.decorate(page.parts, actor_id=member.actor_id, state=state) + member_view.action_form(
            csrf_token(request))
    return render(
        template, article=obj, author=obj.actor, discussion=html, page=page, total=page.total,
        removed=page.removed, thread_view=anchor_id is not None, waiting=waiting, lang=obj.language or "en",
        member_state=state, here=request.path_qs,
        held_notice=state is not None and request.query.get("held") == "1",
        headers={"Vary": "Accept"}, **_common(request), **extra,
    )


async def comment_url(session: AsyncSession, comment: Object, *, page_size: int) -> str | None:
    """Where a browser sees ``comment``: the page of its article's discussion that shows it, at ``#c-<id>``.

    None when the comment belongs to no article we show.  For ``ap.comment``'s browser redirect.
    """
    root = await queries.get_object_by_id(session, comment.root_id) if comment.root_id else None
    if root is None or root.kind != "article" or root.deleted_at is not None:
        return None
    if not db_discussion.is_shown(comment):
        return f"{root.url}#discussion"
    return await discussion.comment_place(session, root, comment, page_size=page_size)


async def profile(request: web.Request, actor: Actor) -> web.Response:
    """A local actor's page: who they are and what they published."""
    node = request.app[NODE]
    # Filter in SQL: the 200 newest of the whole site may hold none of this author's.
    author_id = actor.id if actor.ap_type == "Person" else None
    comments, avatar = [], None
    async with node.sessions() as session:
        articles = await queries.list_articles(session, actor_id=author_id, limit=200)
        if actor.ap_type == "Person":
            comments = await member_state.list_recent_comments(session, actor.id, limit=PROFILE_COMMENTS)
            digests = await db_avatars.get_avatar_digests(session, [actor.id])
            avatar = node.urls.avatar(actor.id, digests[actor.id]) if actor.id in digests else None
    kind = {"Group": "the forum", "Person": "member" if comments and not articles else "author"}.get(actor.ap_type, actor.ap_type)
    forum = site.current(node) if actor.ap_type == "Group" else None  # the forum's page shows its picture and rules
    if forum is not None:
        avatar = forum.avatar_url
    return render("profile.html", actor=actor, articles=articles, comments=comments, avatar=avatar, kind=kind,
                  site_rules=forum.rule_list if forum else [], headers={"Vary": "Accept"}, **_common(request))


async def profile_by_handle(request: web.Request) -> web.Response:
    """``/@username``: the profile page (Mastodon's URL shape)."""
    node = request.app[NODE]
    async with node.sessions() as session:
        actor = await queries.get_local_actor(session, request.match_info["username"])
    if actor is None or actor.ap_type == "Application":
        raise web.HTTPNotFound()
    if actor.deleted_at is not None:
        raise web.HTTPGone()
    return await profile(request, actor)


async def authorize_interaction(request: web.Request) -> web.Response:
    """Where remote-follow templates land; this node has no accounts to act from."""
    return render("interaction.html", uri=request.query.get("uri", ""), **_common(request))
