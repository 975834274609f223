"""Helpers for the tests of the node's actors federating: a member, an article, a remote comment, a follower of
a member or of the site's Group, what a fake remote received."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from node.content import Draft
from node.db import queries
from node.db.models import Activity, Delivery
from node.services.publish import publish_article
from tests.factories import follow_of, reply_to
from tests.fakes.remote import RemoteActor, signed_post
from tests.members_support import make_member
from tests.support import wait_for
from tests.threads_support import comment as object_of


async def make_person(running, username: str = "alice") -> int:
    """A member of the node (an account and its local Person actor); returns the actor's row id."""
    return (await make_member(running, username)).actor_id


async def publish(running, slug: str = "topic", title: str = "Topic") -> str:
    """A local article by the default author; returns its id."""
    async with running.node.sessions.begin() as session:
        author = await queries.get_local_actor(session, running.settings.default_author)
        published = await publish_article(session, running.settings, Draft(title, slug, "Let us talk."), author)
        return published.article.ap_id


async def remote_reply(http, running, actor: RemoteActor, parent: str, html: str = "<p>Nice article!</p>") -> str:
    """``actor`` replies to ``parent`` through our inbox (signed, Mastodon's shape); returns the note's id
    once it is stored."""
    create = reply_to(parent, actor)
    create["object"]["content"] = html
    status, body = await signed_post(http, running.url("/inbox"), create, actor)
    assert status == 202, body
    note = create["object"]["id"]
    await wait_for(lambda: object_of(running, note), what=f"the reply {note} to be stored")
    return note


async def follow_member(http, running, actor: RemoteActor, username: str, n: int = 1) -> None:
    """``actor`` follows the local ``username``; returns once the follow is accepted here."""
    target = running.url(f"/actors/{username}")
    status, body = await signed_post(http, running.url(f"/actors/{username}/inbox"), follow_of(actor, target, n), actor)
    assert status == 202, body

    async def accepted():
        async with running.node.sessions() as session:
            local = await queries.get_local_actor(session, username)
            return await queries.count_follows(session, local.id, "followers") >= 1

    await wait_for(accepted, what=f"{actor.id}'s follow of {username}")


async def follow_group(http, running, remote, actor: RemoteActor, *, inbox: str = "/inbox") -> dict[str, Any]:
    """``actor`` of the fake ``remote`` follows the site's Group (its Follow posted to ``inbox``); returns the
    Group's Accept of that Follow once the fake received it."""
    group = running.url(f"/actors/{running.settings.site_username}")
    follow = follow_of(actor, group)
    status, body = await signed_post(http, running.url(inbox), follow, actor)
    assert status == 202, body

    def accepts() -> list[dict[str, Any]]:
        return [accept for accept in received(remote, "Accept")
                if (accept["object"]["id"] if isinstance(accept["object"], dict) else accept["object"]) == follow["id"]]

    return (await wait_for(accepts, what=f"the Group's Accept of {follow['id']}"))[0]


def received(remote, kind: str, path: str | None = None) -> list[dict[str, Any]]:
    """The activities of type ``kind`` the fake got (at ``path``, or anywhere), oldest first."""
    bodies = [json.loads(r["body"]) for r in remote.received if path is None or r["path"] == path]
    return [body for body in bodies if body.get("type") == kind]


async def deliveries_of(running, activity_id: str) -> list[Delivery]:
    async with running.node.sessions() as session:
        return list((await session.scalars(select(Delivery).where(Delivery.activity_ap_id == activity_id))).all())


async def sent_by(running, actor_ap_id: str, kind: str) -> list[Activity]:
    """The activities of ``kind`` a local actor sent, oldest first."""
    async with running.node.sessions() as session:
        return list((await session.scalars(select(Activity).where(
            Activity.is_local.is_(True), Activity.actor_ap_id == actor_ap_id, Activity.ap_type == kind)
            .order_by(Activity.id))).all())
