"""``Flag``: a report from another server, stored for the moderators (``fednode mod reports``).

Two shapes arrive: Mastodon's (``actor`` is the reporting server's instance
actor, ``object`` a list of the reported account and some of its posts,
``content`` the reporter's comment) and Lemmy's (``actor`` the reporting
person, ``object`` one post or comment, the reason in ``summary``).
A server whose domain block says ``reject_reports`` is not heard.
"""

from __future__ import annotations

import html
import re

from node.db import comments as db_comments
from node.db import moderation as db
from node.db import queries
from node.federation.handlers import HandlerContext, handles
from node.federation.netguard import host_of
from node.federation.outcomes import Outcome
from node.federation.vocab import as_list, get_id
from node.moderation.decide import parent_domains

MAX_OBJECTS = 100
MAX_TEXT = 5000
_TAG = re.compile(r"<[^>]*>")


def _text(value) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(html.unescape(_TAG.sub(" ", value)).split())[:MAX_TEXT] or None


@handles("Flag")
async def on_flag(ctx: HandlerContext) -> Outcome:
    """Store the report; its target is the reported actor, or the author of the first reported post we hold."""
    session = ctx.session
    activity = ctx.activity
    host = host_of(ctx.actor_id)
    refusing = await db.refusing_reports(session, parent_domains(host))
    if refusing is not None:
        return Outcome.ignored(f"reports from {refusing} are rejected")
    ids = [i for i in (get_id(x) for x in as_list(activity.get("object"))) if isinstance(i, str)][:MAX_OBJECTS]
    if not ids:
        return Outcome.ignored("a Flag of nothing")
    actors = set(await db_comments.actor_ids(session, ids))
    target = next((i for i in ids if i in actors), None)
    objects = [i for i in ids if i not in actors]
    if target is None:
        for ident in objects:
            held = await queries.get_object(session, ident)
            if held is not None:
                target = held.actor.ap_id
                break
    report = await db.add_report(
        session, ap_id=activity.get("id"), direction="in", reporter_ap_id=ctx.actor_id,
        target_actor_ap_id=target, object_ap_ids=objects,
        content=_text(activity.get("content")) or _text(activity.get("summary")), raw=activity,
    )
    return Outcome.applied() if report is not None else Outcome.ignored("already reported")
