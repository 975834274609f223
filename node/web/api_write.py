"""The write API for members: ``POST /api/v1/comments`` and ``POST /api/v1/discussions``.

Authenticated by ``Authorization: Bearer <token>`` only (``node.api.tokens``), never by the
session cookie, so no other site's page can act with a signed-in reader's session: there is
no CSRF exposure, and CORS (``node.web.cors``) lets only the ``api_origins`` call it from a
browser.  Errors follow RFC 6750 for the token (401 with ``WWW-Authenticate: Bearer``, 403
``insufficient_scope``) and are JSON with a reason otherwise.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from node.api import thread_json, tokens
from node.api.thread_json import Thread
from node.app import NODE
from node.db import api as db
from node.db import discussion as discussion_db
from node.db import posting as posting_db
from node.db import queries
from node.discussions.resolve import DiscussionError, DiscussionRateLimited
from node.discussions.service import open_discussion
from node.members.posting import PostingRefused, post_comment
from node.web import pages

log = logging.getLogger("fednode.api")

MAX_JSON = 64 * 1024  # a comment is at most 20,000 characters of Markdown (node.members.posting)
REALM = 'Bearer realm="fednode"'


class Refused(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


def _answer(refused: Refused) -> web.Response:
    return web.json_response({"error": refused.reason}, status=refused.status, headers=refused.headers)


async def bearer(request: web.Request, scope: str) -> tokens.Bearer:
    """The member the request's Bearer token speaks for, if the token carries ``scope``; Refused otherwise."""
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Refused(401, "send a member's token as Authorization: Bearer <token> (make one at /account/tokens)",
                      {"WWW-Authenticate": REALM})
    found = await tokens.authenticate(request.app[NODE], token.strip())
    if found is None:
        raise Refused(401, "this token is not valid (revoked, mistyped, or its account is not active)",
                      {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    if scope not in found.scopes:
        raise Refused(403, f"this token may not {tokens.SCOPES[scope]} (it lacks the scope {scope!r})",
                      {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'})
    return found


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; Refused for another media type, a body too large or not a JSON object."""
    if request.content_type != "application/json":
        raise Refused(415, "send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise Refused(413, f"the body is larger than {MAX_JSON} bytes")
    raw = await request.content.read(MAX_JSON + 1)
    if len(raw) > MAX_JSON:
        raise Refused(413, f"the body is larger than {MAX_JSON} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, f"{name}: a non-empty string is required")
    return value


async def comments(request: web.Request) -> web.Response:
    """``POST /api/v1/comments`` ``{"in_reply_to": <ap id>, "content": <markdown>}``: comment as the token's member."""
    try:
        who = await bearer(request, "comment")
        body = await json_body(request)
        parent, content = _string(body, "in_reply_to"), _string(body, "content")
        visibility = body.get("visibility", "public")
        if visibility not in ("public", "followers"):
            raise Refused(400, "visibility: public or followers")
        node = request.app[NODE]
        try:
            comment = await post_comment(node, who.actor_id, parent, content, visibility)
        except PostingRefused as exc:
            raise Refused(exc.status, exc.message) from None
    except Refused as refused:
        return _answer(refused)
    async with node.sessions() as session:
        stored = await queries.get_object_by_id(session, comment.id)
        root = await queries.get_object_by_id(session, stored.root_id)
        documents = await db.documents_of_threads(session, [root.id])
        avatars = await thread_json.local_avatars(session, [stored])
    thread = Thread(root, documents.get(root.id))
    held = stored.moderation != "published"
    log.info("member @%s commented through the API (%s)", who.username, "held" if held else "published")
    return web.json_response({
        "comment": thread_json.comment_json(stored, thread, node.urls, avatars),
        "held": held,
        "thread_id": root.ap_id,
    }, status=201, headers={"Location": stored.ap_id})


async def discussions(request: web.Request) -> web.Response:
    """``POST /api/v1/discussions`` ``{"url": …}``: the page's discussion, opened by the token's member if new."""
    try:
        who = await bearer(request, "discuss")
        url = _string(await json_body(request), "url").strip()
        node = request.app[NODE]
        async with node.sessions() as session:
            opener = await posting_db.get_actor_by_id(session, who.actor_id)
        if opener is None:
            raise Refused(403, "this account has no actor")
        try:
            opened = await open_discussion(node, url, opener=opener)
        except DiscussionRateLimited as exc:
            raise Refused(429, exc.reason, {"Retry-After": "3600"}) from None
        except DiscussionError as exc:
            raise Refused(400, exc.reason) from None
    except Refused as refused:
        return _answer(refused)
    async with node.sessions() as session:
        root = await queries.get_object_by_id(session, opened.document.thread_id)
        document = await db.documents_of_threads(session, [root.id])
        version = (await discussion_db.thread_versions(session, [root.id]))[root.id]
        total, _ = await request.app[pages.PAGE_CACHE].thread_counts(session, root.id, version)
    thread = Thread(root, document.get(root.id))
    return web.json_response({"thread": thread_json.summary_json(thread, node.urls, total), "created": opened.created},
                             status=201 if opened.created else 200, headers={"Location": thread.html_url(node.urls)})
