"""The delivery ledger per article: for each inbox its article's activities went to, how it stands.

One row per inbox and activity (the ``Create``, each ``Update``, the ``Delete``):
its state, attempts, the last answer or error, and when the next try is due
(``node.federation.delivery`` and ``retry`` write these).  Failed rows can be
sent again from here, as ``fednode deliveries retry`` does.
"""

from __future__ import annotations

from itertools import groupby

from aiohttp import web

from node.app import NODE
from node.db import admin as db
from node.db import queries
from node.web import params
from node.web.admin import common

LEDGER_PAGE = 200  # inboxes a page of one article's ledger shows


async def articles(request: web.Request) -> web.Response:
    """``/admin/deliveries``: the local articles, newest first, each with how its deliveries stand."""
    common.moderator(request)
    node = request.app[NODE]
    number = common.page_number(request)
    async with node.sessions() as session:
        rows = await db.local_articles(session, limit=common.PAGE_SIZE + 1, offset=(number - 1) * common.PAGE_SIZE)
        shown = rows[:common.PAGE_SIZE]
        summaries = await db.ledger_summaries(session, [a.ap_id for a in shown])
        totals = await queries.count_deliveries_by_status(session)
    return common.page(request, "admin/deliveries.html", "deliveries", articles=shown, summaries=summaries,
                       totals=totals, number=number, has_more=len(rows) > common.PAGE_SIZE)


async def _article(session, object_id: int):
    article = await queries.get_object_by_id(session, object_id)
    if article is None or article.kind != "article" or not article.is_local:
        raise web.HTTPNotFound(reason=f"There is no local article {object_id}.")
    return article


async def ledger(request: web.Request) -> web.Response:
    """``/admin/deliveries/<article id>``: every delivery of the article's activities, per inbox."""
    common.moderator(request)
    node = request.app[NODE]
    object_id = params.row_id(request.match_info["object_id"])
    number = common.page_number(request)
    async with node.sessions() as session:
        article = await _article(session, object_id)
        rows = await db.ledger_of_object(session, article.ap_id, limit=LEDGER_PAGE + 1,
                                         offset=(number - 1) * LEDGER_PAGE)
        shown = rows[:LEDGER_PAGE]
        kinds = await db.activity_types(session, [r.activity_ap_id for r in shown])
        summary = (await db.ledger_summaries(session, [article.ap_id])).get(article.ap_id, db.LedgerSummary())
    groups = [(activity_id, kinds.get(activity_id, ("Activity", None)), list(group))
              for activity_id, group in groupby(shown, key=lambda r: r.activity_ap_id)]
    return common.page(request, "admin/ledger.html", "deliveries", article=article, groups=groups, summary=summary,
                       number=number, has_more=len(rows) > LEDGER_PAGE, back=request.path_qs)


async def retry(request: web.Request) -> web.Response:
    """``POST /admin/deliveries/<article id>/retry``: send the article's failed deliveries again now."""
    common.moderator(request)
    await common.form(request)  # only for its CSRF check: the form carries nothing else
    node = request.app[NODE]
    object_id = params.row_id(request.match_info["object_id"])
    async with node.sessions.begin() as session:
        article = await _article(session, object_id)
        ids = await db.failed_delivery_ids(session, article.ap_id)
        if ids:
            await queries.retry_deliveries(session, ids)
    node.wake_delivery()
    raise common.see_other(f"/admin/deliveries/{object_id}", "retry")
