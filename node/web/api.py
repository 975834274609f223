"""The read API (``/api/v1/thread``, ``/api/v1/counts``): public JSON for embeds, extensions and scripts.

Every answer is read from the database alone: asking about a page never opens a thread
and never fetches the page (so asking tells the page's site nothing and costs nobody a
request).  Unknown things are 404 JSON, bad parameters 400 JSON with a reason; CORS
headers come from ``node.web.cors``.  The response shapes are JSON Schemas in
``node/web/api_schema/`` (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.api import thread_json
from node.api.find import Refused, find_by_id, find_by_url, own_article_id
from node.app import NODE
from node.db import api as db
from node.db import discussion as discussion_db
from node.discussions.canonical import lookup_keys
from node.discussions.resolve import DiscussionError, requested_form
from node.web import pages
from node.web.discussion import top_per_page
from node.web.params import ascii_number

MAX_COUNT_URLS = 50
MAX_ID_LENGTH = 2048


def error(status: int, reason: str, **extra: Any) -> web.Response:
    """A JSON error: ``{"error": reason, ...}``."""
    return web.json_response({"error": reason, **extra}, status=status)


def _page_params(request: web.Request, default_limit: int) -> tuple[int, int]:
    """(after, limit) from ``?cursor=`` and ``?limit=``; Refused for anything else."""
    raw_limit = request.query.get("limit")
    limit = default_limit
    if raw_limit is not None:
        value = ascii_number(raw_limit, maximum=thread_json.MAX_LIMIT)
        if value is None or value < 1:
            raise Refused(400, f"limit must be a number from 1 to {thread_json.MAX_LIMIT}")
        limit = value
    after = 0
    raw_cursor = request.query.get("cursor")
    if raw_cursor is not None:
        decoded = thread_json.decode_cursor(raw_cursor)
        if decoded is None:
            raise Refused(400, "cursor: not one this API gave (use next_cursor from the previous page)")
        after = decoded
    return after, limit


async def thread(request: web.Request) -> web.Response:
    """``GET /api/v1/thread?url=<page>`` or ``?id=<ap id>``: a thread's summary and one page of its comments."""
    try:
        return await _thread(request)
    except Refused as refused:
        return error(refused.status, refused.reason, **refused.extra)


async def _thread(request: web.Request) -> web.Response:
    node = request.app[NODE]
    url, ap_id = request.query.get("url", "").strip(), request.query.get("id", "").strip()
    if bool(url) == bool(ap_id):
        raise Refused(400, "give the page's address as ?url= or a thread's or comment's id as ?id= (one of them)")
    if len(ap_id) > MAX_ID_LENGTH:
        raise Refused(400, f"id: longer than {MAX_ID_LENGTH} characters")
    page_size = node.settings.discussion_page_size
    after, limit = _page_params(request, top_per_page(page_size))
    cache = request.app[pages.PAGE_CACHE]
    async with node.sessions() as session:
        if url:
            found, anchor = await find_by_url(node, session, url), None
        else:
            found, anchor = await find_by_id(session, ap_id)
        version = (await discussion_db.thread_versions(session, [found.root.id]))[found.root.id]
        total, _ = await cache.thread_counts(session, found.root.id, version)
        comments, last = await thread_json.comments_page(
            session, found, anchor, node.urls, after=after, limit=limit,
            budget=page_size - (1 if anchor is not None else 0))
        anchor_avatar = await thread_json.local_avatars(session, [anchor] if anchor is not None else [])
    view_id = anchor.ap_id if anchor is not None else found.root.ap_id
    next_cursor = thread_json.encode_cursor(last) if last is not None else None
    body = {
        "thread": thread_json.summary_json(found, node.urls, total),
        "parent": view_id,
        "comment": (thread_json.comment_json(anchor, found, node.urls, anchor_avatar) if anchor is not None
                    else None),
        "comments": comments,
        "next_cursor": next_cursor,
        "next": (f"{thread_json.thread_api_url(node.urls, view_id)}&limit={limit}&cursor={next_cursor}"
                 if next_cursor is not None else None),
    }
    return web.json_response(body)


async def counts(request: web.Request) -> web.Response:
    """``GET /api/v1/counts?url=…&url=…``: the comment count of each page (0 for a page nobody discusses)."""
    node = request.app[NODE]
    asked = [u.strip() for u in request.query.getall("url", [])]
    if not asked:
        return error(400, "give one or more page addresses as ?url=…&url=…")
    asked = list(dict.fromkeys(asked))
    if len(asked) > MAX_COUNT_URLS:
        return error(400, f"at most {MAX_COUNT_URLS} addresses in one request (got {len(asked)})")
    keys_of: dict[str, list[str]] = {}
    for url in asked:
        if own_article_id(node, url) is not None:
            keys_of[url] = []
            continue
        try:
            keys_of[url] = lookup_keys(requested_form(url))
        except DiscussionError as exc:
            return error(400, f"url {url[:200]!r}: {exc.reason}", url=url[:2048])
    cache = request.app[pages.PAGE_CACHE]
    async with node.sessions() as session:
        by_alias = await db.thread_ids_by_alias(session, [k for keys in keys_of.values() for k in keys])
        by_id = await db.article_ids(session, [own_article_id(node, u) or u for u in asked])
        thread_of: dict[str, int] = {}
        for url in asked:
            found = next((by_alias[k] for k in keys_of[url] if k in by_alias), None)
            if found is None:
                found = by_id.get(own_article_id(node, url) or url)
            if found is not None:
                thread_of[url] = found
        totals = await cache.comment_counts(session, sorted(set(thread_of.values())))
    return web.json_response({"counts": {url: totals.get(thread_of[url], 0) if url in thread_of else 0
                                         for url in asked}})
