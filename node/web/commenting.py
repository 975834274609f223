"""Members taking part from the web: comment, reply, edit, delete, like, boost, follow a thread.

Plain HTML forms, no script needed.  Every POST carries the CSRF token (``checked_form``)
and, once done, answers 303 to the comment's place on its discussion page (``#c-<id>``,
which the page highlights).  The work itself is the posting service's
(``node.members.posting``: the change, its activity and its deliveries in one
transaction); a refusal (a locked thread, someone else's comment, an empty text…) comes
back as the form again with the reason and the status the service gave (400, 403, 404,
410, 413), the member's text kept.

- ``/comments/<id>/reply`` (GET the reply box under the comment it answers, POST it);
- ``/threads/<id>/comment`` (POST: a comment on the article or thread itself);
- ``/comments/<id>/edit``, ``/comments/<id>/delete`` (GET the form or the confirmation, POST it);
- ``/comments/<id>/like``, ``unlike``, ``boost``, ``unboost`` (POST);
- ``/threads/<id>/follow``, ``unfollow`` (POST).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from node.app import NODE
from node.db import discussion as db_discussion
from node.db import discussions as db_discussions
from node.db import notifications, queries
from node.db.models import Object
from node.members import posting
from node.members.posting import PostingRefused
from node.web import params
from node.web.csrf import checked_form
from node.web.discussion import comment_place
from node.web.guards import require_member
from node.web.render import fold_leading_mentions, render
from node import site

MAX_CHARS = posting.MAX_MARKDOWN
FIELD = "content"


def _common(request: web.Request) -> dict:
    settings = request.app[NODE].settings
    return {"site_name": site.current(request.app[NODE]).name, "site_handle": f"@{settings.site_username}@{settings.host}"}


# --- where things are -----------------------------------------------------------------------------

async def thread_page(node, session, root: Object) -> str:
    """The page people read the thread of ``root`` on: a local article's own page, a discussed web
    page's ``/discussions/<n>``, or ``/threads/<n>`` for a thread from another site."""
    document = await db_discussions.get_document_of_thread(session, root.id)
    if document is not None:
        return node.urls.discussion(document.id)
    if root.is_local and root.kind == "article" and root.url:
        return root.url
    return node.urls.thread(root.id)


async def place(node, session, comment: Object) -> str:
    """Where a browser sees ``comment``: its discussion page at ``#c-<id>`` (or the discussion, if not shown)."""
    root = comment if comment.kind == "article" else (
        await queries.get_object_by_id(session, comment.root_id) if comment.root_id else None)
    if root is None:
        return "/"
    page = await thread_page(node, session, root)
    if comment.kind == "article":
        return f"{page}#discussion"
    if not db_discussion.is_shown(comment) or comment.moderation != "published":
        return f"{page}?held=1#discussion" if comment.moderation == "held" else f"{page}#discussion"
    where = await comment_place(session, root, comment, page_size=node.settings.discussion_page_size)
    # comment_place builds on root.url, which is the remote page for threads from elsewhere.
    return page + where[len(root.url):] if root.url and where.startswith(root.url) else where


async def _target(request: web.Request, *, kinds: tuple[str, ...] = ("comment",)) -> Object:
    """The post named by the URL's id: a comment (or a thread root) that the public pages show."""
    node = request.app[NODE]
    object_id = params.row_id(request.match_info["object_id"])
    async with node.sessions() as session:
        target = await queries.get_object_by_id(session, object_id)
    if target is None or target.kind not in kinds or not _visible(target):
        raise web.HTTPNotFound(reason="There is no such comment here.")
    return target


def _visible(obj: Object) -> bool:
    if obj.kind == "article":
        return obj.visibility in ("public", "unlisted")
    return db_discussion.is_shown(obj)


async def _see_other(request: web.Request, obj: Object) -> web.HTTPSeeOther:
    node = request.app[NODE]
    async with node.sessions() as session:
        return web.HTTPSeeOther(await place(node, session, obj))


def _quoted(obj: Object) -> Markup:
    """The sanitised HTML of what a form answers (as stored), without Mastodon's leading mentions."""
    html = obj.content or ""
    return Markup(html if obj.is_local else fold_leading_mentions(html))


async def _compose(request: web.Request, *, mode: str, target: Object, text: str = "", error: str | None = None,
                   status: int = 200, action: str) -> web.Response:
    """The reply, comment or edit form, under what it answers, with a way back to the discussion."""
    node = request.app[NODE]
    async with node.sessions() as session:
        back = await place(node, session, target)
        root = target if target.kind == "article" else (
            await queries.get_object_by_id(session, target.root_id) if target.root_id else None)
    return render("compose.html", status=status, mode=mode, target=target, quoted=_quoted(target), text=text,
                  error=error, back=back, action=action, max_chars=MAX_CHARS, thread_title=root.name if root else None,
                  headers={"Cache-Control": "private, no-store"}, **_common(request))


def _text(form: Any) -> str:
    value = form.get(FIELD, "")
    return value if isinstance(value, str) else ""


# --- replying and commenting ----------------------------------------------------------------------

async def reply_form(request: web.Request) -> web.Response:
    """``GET /comments/<id>/reply``: the comment, and a reply box under it."""
    require_member(request)
    target = await _target(request)
    if db_discussion.is_placeholder(target):
        raise web.HTTPGone(reason="This comment was deleted or removed; it cannot be answered.")
    return await _compose(request, mode="reply", target=target, action=f"/comments/{target.id}/reply")


async def reply_submit(request: web.Request) -> web.Response:
    """``POST /comments/<id>/reply``: post the reply; 303 to it."""
    member = require_member(request)
    form = await checked_form(request)
    target = await _target(request)
    return await _post(request, member, target, _text(form), mode="reply", action=f"/comments/{target.id}/reply")


async def thread_comment(request: web.Request) -> web.Response:
    """``POST /threads/<id>/comment``: a comment on the thread's article (or discussed page) itself."""
    member = require_member(request)
    form = await checked_form(request)
    target = await _target(request, kinds=("article",))
    return await _post(request, member, target, _text(form), mode="comment", action=f"/threads/{target.id}/comment")


async def _post(request: web.Request, member, target: Object, text: str, *, mode: str, action: str) -> web.Response:
    node = request.app[NODE]
    try:
        comment = await posting.post_comment(node, member.actor_id, target.ap_id, text)
    except PostingRefused as refused:
        return await _compose(request, mode=mode, target=target, text=text, error=_sentence(refused.message),
                              status=refused.status, action=action)
    raise await _see_other(request, comment)


def _sentence(message: str) -> str:
    """A service's reason ("the comment is empty") as the page says it ("The comment is empty.")."""
    message = message.strip()
    return (message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")) if message else ""


# --- editing and deleting one's own comment -------------------------------------------------------

async def _own(request: web.Request, member) -> Object:
    target = await _target(request)
    if target.actor_id != member.actor_id:
        raise web.HTTPForbidden(reason="You can only change your own comments.")
    if target.deleted_at is not None:
        raise web.HTTPGone(reason="This comment was deleted.")
    return target


async def edit_form(request: web.Request) -> web.Response:
    """``GET /comments/<id>/edit``: the member's comment, its Markdown in a box to change."""
    member = require_member(request)
    target = await _own(request, member)
    return await _compose(request, mode="edit", target=target, text=target.source or "",
                          action=f"/comments/{target.id}/edit")


async def edit_submit(request: web.Request) -> web.Response:
    """``POST /comments/<id>/edit``: save the new text (an ``Update``; the page says "edited")."""
    member = require_member(request)
    form = await checked_form(request)
    target = await _own(request, member)
    node = request.app[NODE]
    text = _text(form)
    try:
        edited = await posting.edit_comment(node, member.actor_id, target.id, text)
    except PostingRefused as refused:
        return await _compose(request, mode="edit", target=target, text=text, error=_sentence(refused.message),
                              status=refused.status, action=f"/comments/{target.id}/edit")
    raise await _see_other(request, edited)


async def delete_form(request: web.Request) -> web.Response:
    """``GET /comments/<id>/delete``: are you sure?"""
    member = require_member(request)
    target = await _own(request, member)
    node = request.app[NODE]
    async with node.sessions() as session:
        back = await place(node, session, target)
    return render("confirm_delete.html", target=target, quoted=_quoted(target), back=back,
                  headers={"Cache-Control": "private, no-store"}, **_common(request))


async def delete_submit(request: web.Request) -> web.Response:
    """``POST /comments/<id>/delete``: delete it (a ``Delete``; a placeholder keeps its replies in place)."""
    member = require_member(request)
    await checked_form(request)
    target = await _own(request, member)
    node = request.app[NODE]
    try:
        deleted = await posting.delete_comment(node, member.actor_id, target.id)
    except PostingRefused as refused:
        raise _refusal(refused) from None
    raise await _see_other(request, deleted)


def _refusal(refused: PostingRefused) -> web.HTTPException:
    """The HTTP error for a refusal that has no form to show again."""
    kinds = {400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound, 410: web.HTTPGone,
             413: web.HTTPRequestEntityTooLarge}
    kind = kinds.get(refused.status, web.HTTPBadRequest)
    if kind is web.HTTPRequestEntityTooLarge:
        return kind(max_size=MAX_CHARS, actual_size=MAX_CHARS + 1, reason=_sentence(refused.message))
    return kind(reason=_sentence(refused.message))


# --- likes, boosts, follows -----------------------------------------------------------------------

async def react(request: web.Request) -> web.Response:
    """``POST /comments/<id>/{like,unlike,boost,unboost}``: 303 back to the comment."""
    member = require_member(request)
    await checked_form(request)
    target = await _target(request)
    # The route allows only these four, each a function of the posting service by the same name.
    action = getattr(posting, request.match_info["action"])
    try:
        await action(request.app[NODE], member.actor_id, target.id)
    except PostingRefused as refused:
        raise _refusal(refused) from None
    raise await _see_other(request, target)


async def follow(request: web.Request) -> web.Response:
    """``POST /threads/<id>/{follow,unfollow}``: every new comment of the thread becomes a notification (or stops)."""
    member = require_member(request)
    await checked_form(request)
    root = await _target(request, kinds=("article",))
    node = request.app[NODE]
    async with node.sessions.begin() as session:
        if request.match_info["action"] == "follow":
            await notifications.follow_thread(session, member.actor_id, root.id)
        else:
            await notifications.unfollow_thread(session, member.actor_id, root.id)
        where = await thread_page(node, session, root)
    raise web.HTTPSeeOther(f"{where}#discussion")


async def go(request: web.Request) -> web.Response:
    """``GET /c/<id>``: a comment's permalink, whatever thread holds it: 303 to its place (``#c-<id>``)."""
    node = request.app[NODE]
    object_id = params.row_id(request.match_info["object_id"])
    async with node.sessions() as session:
        target = await queries.get_object_by_id(session, object_id)
        if target is None or target.kind != "comment" or target.visibility not in ("public", "unlisted"):
            raise web.HTTPNotFound(reason="There is no such comment here.")
        raise web.HTTPSeeOther(await place(node, session, target))
