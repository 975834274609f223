"""Telling followers when a local actor's public document changed: an ``Update`` of the actor.

The site Group's name, summary and picture come from the configuration (``site_name``,
``site_summary``) or from the admin's site settings (``node.site``): pages and NodeInfo
show a change at once, but every follower's server keeps the copy of the actor it
fetched.  So at start-up, and when an admin saves the site settings
(``node.services.site_settings``), the local actor's document is hashed and compared
with the hash of the one last sent; when they differ, an ``Update`` carrying the whole
document is queued for the actor's followers (Mastodon, Misskey, Lemmy… refresh their
copy of an account on it) and the new hash is kept, so an unchanged document sends
nothing, and a change is sent once however many processes see it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from node.db import actor_documents, avatars, queries
from node.db.models import Actor
from node.federation import convert, outbox
from node.federation.vocab import PUBLIC

if TYPE_CHECKING:
    from node.app import Node

log = logging.getLogger("fednode.actors")


def document_hash(document: dict[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON (sorted keys): equal documents, equal hashes."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def local_actor_document(node: "Node", session: AsyncSession, actor: Actor) -> dict[str, Any]:
    """A local actor's document as served at its id and sent in an ``Update``: with a member's avatar."""
    manual = node.settings.manual_approval and actor.ap_type != "Application"
    # The site Group's picture (an admin's upload, node.services.site_settings) is stored as its avatar too.
    has_avatar = actor.ap_type in ("Person", "Group")
    digest = (await avatars.get_avatar_digests(session, [actor.id])).get(actor.id) if has_avatar else None
    icon = node.urls.avatar(actor.id, digest) if digest else None
    return convert.actor_to_ap(actor, node.urls, manually_approves=manual, icon=icon)


def actor_update(node: "Node", actor: Actor, document: dict[str, Any]) -> dict[str, Any]:
    """The ``Update`` of ``actor`` with its current document, to Public and its followers."""
    return {
        "id": outbox.new_activity_id(node.urls), "type": "Update", "actor": actor.ap_id,
        "object": document, "to": [PUBLIC], "cc": [actor.followers],
    }


async def update_if_changed(node: "Node", session: AsyncSession, actor: Actor) -> int:
    """Queue an ``Update`` of ``actor`` for its followers if its document changed since the last one sent.

    Returns the delivery rows queued (0 when nothing changed, another process claimed it, or the
    actor is new).  The caller's transaction holds the claim and the deliveries together, so
    either both are stored or neither; it wakes the delivery worker after committing.
    """
    document = await local_actor_document(node, session, actor)
    digest = document_hash(document)
    if digest == actor.sent_document_hash:
        return 0
    if not await actor_documents.claim_document_hash(session, actor.id, actor.sent_document_hash, digest):
        return 0  # another process (starting, or saving the same change) sends it
    if actor.sent_document_hash is None:
        return 0  # a new actor: its followers have only ever seen this document
    return await outbox.deliver_to_followers(
        session, actor_update(node, actor, document), signer=actor.username, followed=[actor])


async def send_changed_actors(node: "Node") -> list[str]:
    """Queue an ``Update`` for the followers of each local actor whose document changed; their usernames.

    The instance actor is left out: nobody follows it.  An actor with no hash yet (created
    since hashes are kept) only has its hash recorded: the first start runs this before the
    inbox opens, so no follower can hold an older document.  Migration 0008 gives actors of an
    older database the hash ``unknown`` instead, so their followers get one Update.
    """
    sent: list[str] = []
    async with node.sessions.begin() as session:
        for actor in await queries.list_local_actors(session):
            if actor.ap_type == "Application":
                continue
            if await update_if_changed(node, session, actor):
                sent.append(actor.username)
    if sent:
        log.info("actor documents changed: Update queued for the followers of %s", ", ".join(sent))
        node.wake_delivery()
    return sent
