"""HTML pages for people: the index, an article with its discussion, profiles, tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from node.app import NODE
from node.db import queries
from node.db.models import Actor, Object
from node.federation.comments import visibility_of
from node.threads import ThreadRow, flatten, paginate
from node.web import params
from node.web.render import fold_leading_mentions, render, safe_href

INDEX_PAGE = 30
TAG_SCAN_CHUNK = 500
THREADS_PER_PAGE = 50  # top-level comments per page of a discussion, each with all its replies
PUBLIC = ("public", "unlisted")


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": settings.site_name, "site_handle": f"@{settings.site_username}@{settings.host}"}


async def index(request: web.Request) -> web.Response:
    """The newest articles, ``INDEX_PAGE`` a page (``?page=2`` for older ones)."""
    node = request.app[NODE]
    number = _page_number(request)
    async with node.sessions() as session:
        articles = await queries.list_articles(session, limit=INDEX_PAGE + 1, offset=(number - 1) * INDEX_PAGE)
        affiliated = await queries.list_remote_articles(session, limit=INDEX_PAGE) if number == 1 else []
    items = [{"article": a, "author": a.actor, "href": a.url} for a in articles[:INDEX_PAGE]]
    remote = [{"article": a, "author": a.actor, "href": node.urls.thread(a.id)} for a in affiliated]
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
    skip, matching, offset = (number - 1) * INDEX_PAGE, [], 0
    async with node.sessions() as session:
        # Tags are a JSON list, which SQLite and PostgreSQL query differently: read the
        # articles newest first in chunks and keep the tagged ones, up to one past the page.
        while len(matching) <= skip + INDEX_PAGE:
            chunk = await queries.list_articles(session, limit=TAG_SCAN_CHUNK, offset=offset)
            matching += [a for a in chunk if wanted in (t.lower() for t in a.tags or [])]
            offset += TAG_SCAN_CHUNK
            if len(chunk) < TAG_SCAN_CHUNK:
                break
    items = [{"article": a, "author": a.actor, "href": a.url} for a in matching[skip:skip + INDEX_PAGE]]
    return render("index.html", articles=items, affiliated=[], heading=f"#{wanted}",
                  pages=ListPages(number, len(matching) > skip + INDEX_PAGE), **_common(request))


@dataclass(frozen=True)
class ListPages:
    """Where a page of a newest-first list is: its number, and whether older entries follow."""

    number: int
    has_older: bool


@dataclass(frozen=True)
class CommentView:
    """What the page shows of one comment: its row, its HTML as displayed and the link to the original."""

    row: ThreadRow
    content: Markup | None  # None for a deleted comment (a placeholder)
    original: str | None  # where the comment lives (its url, else its id), http(s) only
    warning: str | None = None  # a content warning: the text is shown only when a reader opens it


MAX_WARNING = 500


def content_warning(comment: Object) -> str | None:
    """The content warning of a remote note: its ``summary`` (plain text, as Mastodon and Misskey send it).

    On an Article or a Page, ``summary`` is an abstract, not a warning.
    """
    raw = comment.raw if isinstance(comment.raw, dict) else {}
    summary = raw.get("summary")
    if comment.is_local or comment.ap_type not in ("Note", "Question") or not isinstance(summary, str):
        return None
    return summary.strip()[:MAX_WARNING] or None


def _comment_view(row: ThreadRow) -> CommentView:
    comment = row.comment
    if comment.deleted_at is not None or comment.moderation != queries.SHOWN_STATE:
        return CommentView(row, None, None)
    html = comment.content or ""
    if not comment.is_local:
        html = fold_leading_mentions(html)
    return CommentView(row, Markup(html), safe_href(comment.url) or safe_href(comment.ap_id), content_warning(comment))


def _page_number(request: web.Request) -> int:
    return params.page_number(request.query.get("page"))


async def count_waiting_replies(session: AsyncSession, root: Object, thread: Sequence[Object]) -> int:
    """How many public replies are parked for this thread (non-public ones would not be shown)."""
    waiting = await queries.list_pending_for_thread(session, root, thread)
    return sum(1 for row in waiting if isinstance(row.raw, dict) and visibility_of(row.raw) in PUBLIC)


async def article(request: web.Request, obj: Object, *, template: str = "article.html", **extra) -> web.Response:
    """An article and its discussion, nested and numbered, 50 top-level threads a page (``?page=N``).

    ``template`` and ``extra`` let a page that shows a thread with more around it (the
    discussion of a web page, node.web.discussions) reuse the same thread rendering.
    """
    node = request.app[NODE]
    page_number = _page_number(request)
    async with node.sessions() as session:
        thread = await queries.list_thread(session, obj.id)
        waiting = await count_waiting_replies(session, obj, thread)
    # Followers-only and direct replies never reach a public page; a public reply
    # to one of them is shown at the top level, marked as answering something not shown.
    # Held, rejected and suspended comments are on no page; removed ones leave a placeholder.
    comments = [c for c in thread if c.visibility in PUBLIC and c.moderation in queries.ON_PAGE_STATES]
    page = paginate(flatten(comments, obj.ap_id), page_number, per_page=THREADS_PER_PAGE)
    if page_number > page.count:
        raise web.HTTPNotFound()
    return render(
        template, article=obj, author=obj.actor, comments=[_comment_view(r) for r in page.rows],
        page=page, total=sum(1 for c in comments if c.deleted_at is None and c.moderation == queries.SHOWN_STATE),
        removed=sum(1 for c in comments if c.moderation == "removed"), waiting=waiting,
        lang=obj.language or "en", headers={"Vary": "Accept"}, **_common(request), **extra,
    )


async def comment_url(session: AsyncSession, comment: Object) -> str | None:
    """Where a browser sees ``comment``: its article's page (``?page=N`` past the first) at ``#comment-<number>``.

    None when the comment belongs to no article we show.  For ``ap.comment``'s
    browser redirect, which otherwise lands on page 1 whatever the page.
    """
    root = await queries.get_object_by_id(session, comment.root_id) if comment.root_id else None
    if root is None or root.kind != "article" or root.deleted_at is not None:
        return None
    thread = [c for c in await queries.list_thread(session, root.id)
              if c.visibility in PUBLIC and c.moderation in queries.ON_PAGE_STATES]
    top_level = 0
    for row in flatten(thread, root.ap_id):
        top_level += row.depth == 0
        if row.comment.id == comment.id:
            page = (top_level - 1) // THREADS_PER_PAGE + 1
            return f"{root.url}{f'?page={page}' if page > 1 else ''}#comment-{row.number}"
    return f"{root.url}#discussion"


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
