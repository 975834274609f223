"""Fan-out: turning one activity and its audience into one delivery row per inbox.

Followers on the same server share one inbox (``endpoints.sharedInbox``), so a
thousand followers on mastodon.social cost one request.  Hosts marked
unavailable are left out, as Mastodon does.  Rows are written in the caller's
transaction: the activity is queued exactly when the change that caused it
commits.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import deliveries as ledger
from node.db import wakeups
from node.db.models import Activity, Actor
from node.db.states import ActivityState, DeliveryState
from node.db.types import utcnow
from node.federation.netguard import host_of
from node.federation.vocab import CONTEXT, get_id
from node.urls import Urls


def new_activity_id(urls: Urls) -> str:
    """A fresh, dereferenceable id for an activity we send."""
    return urls.activity(uuid.uuid4().hex)


def activity_document(activity: dict[str, Any]) -> dict[str, Any]:
    """The activity with our @context first, as it goes on the wire."""
    return {"@context": CONTEXT, **{k: v for k, v in activity.items() if k != "@context"}}


def preferred_inbox(actor: Actor) -> str | None:
    """Where to deliver to an actor: its server's shared inbox when it has one."""
    return actor.shared_inbox or actor.inbox


async def follower_inboxes(session: AsyncSession, followed_ids: Sequence[int]) -> list[str]:
    """Unique inboxes of the accepted remote followers of these local actors."""
    return await ledger.follower_inboxes(session, followed_ids)


async def enqueue(
    session: AsyncSession, activity: dict[str, Any], *, signer: str, inboxes: Iterable[str],
) -> int:
    """Queue ``activity`` (signed by local actor ``signer``) for each inbox; return how many rows."""
    return await enqueue_many(session, [activity], signer=signer, inboxes=inboxes)


async def enqueue_many(
    session: AsyncSession, activities: Sequence[dict[str, Any]], *, signer: str, inboxes: Iterable[str],
) -> int:
    """Queue each of ``activities`` for the same inboxes (the Group's announces of a batch of
    replies): the hosts and the activities already stored are looked up once, not per activity."""
    unique = sorted(set(inboxes))
    if not unique or not activities:
        return 0
    unavailable = await ledger.unavailable_hosts(session)
    documents = [activity_document(activity) for activity in activities]
    stored = await ledger.stored_activity_ids(session, [document["id"] for document in documents])
    targets: list[tuple[str, str]] = []  # (inbox, host) of the servers that are not unavailable
    hosts: dict[str, str] = {}  # "scheme://authority" -> host: parsed once per server, not per inbox
    for inbox in unique:
        origin = inbox.split("/", 3)[:3]
        key = "/".join(origin)
        host = hosts.get(key)
        if host is None:
            # The authority ends at the first "/" (or "?"/"#", which stay in the prefix and
            # end it there too), so the prefix has the same host as the whole URL.
            host = hosts[key] = host_of(key) if len(origin) == 3 else host_of(inbox)
        if host not in unavailable:
            targets.append((inbox, host))
    now = utcnow()
    rows = [{"inbox": inbox, "host": host} for inbox, host in targets]
    queued = 0
    for document in documents:
        object_id = get_id(document.get("object"))
        if document["id"] not in stored:
            # Every activity we send is served at its id (/activities/<key>).
            stored.add(document["id"])
            session.add(Activity(
                ap_id=document["id"], ap_type=document["type"], is_local=True, actor_ap_id=get_id(document["actor"]),
                object_ap_id=object_id, status=ActivityState.SENT, raw=document, created_at=now,
            ))
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        if rows:
            # Only the inbox and its host differ from row to row: the rest is given once.
            await ledger.insert_deliveries(session, rows, activity_ap_id=document["id"], object_ap_id=object_id,
                                           signer=signer, body=body, status=DeliveryState.PENDING.value,
                                           attempts=0, next_attempt_at=now, created_at=now)
            queued += len(rows)
    if queued:
        await wakeups.announce(session, wakeups.DELIVERIES)  # workers in other processes start at once
    return queued


async def deliver_to_followers(
    session: AsyncSession, activity: dict[str, Any], *, signer: str, followed: Sequence[Actor],
) -> int:
    """Queue ``activity`` for the followers of every actor in ``followed`` (one row per inbox)."""
    inboxes = await follower_inboxes(session, [actor.id for actor in followed])
    return await enqueue(session, activity, signer=signer, inboxes=inboxes)


async def deliver_to_actor(session: AsyncSession, activity: dict[str, Any], *, signer: str, actor: Actor) -> int:
    """Queue ``activity`` for one remote actor's own inbox (Accept, Follow, Undo...)."""
    if actor.inbox is None:
        return 0
    return await enqueue(session, activity, signer=signer, inboxes=[actor.inbox])
