"""Converters from our rows to ActivityStreams documents (``*_to_ap``).

Pure functions: they take rows and a ``Urls`` and never touch the database,
so every document shape can be tested on its own.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from node.content import render_markdown_for_fediverse
from node.db.models import Activity, Actor, Object
from node.db.types import utcnow
from node.federation.vocab import CONTEXT, PUBLIC
from node.urls import Urls


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a 'Z', to the second, as Mastodon writes it."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def actor_to_ap(actor: Actor, urls: Urls, *, manually_approves: bool = False, icon: str | None = None) -> dict[str, Any]:
    """The actor document of a local actor (Group, Person or the instance Application).

    ``icon`` is the URL of a member's avatar (WebP).  A deleted account keeps only what lets
    servers check the ``Delete`` it sent (its key, its inbox), as Mastodon serves a removed
    account: no name, no summary, no picture, not discoverable.
    """
    username = actor.username
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": actor.ap_id,
        "type": actor.ap_type,
        "preferredUsername": username,
        "name": actor.name or username,
        "summary": actor.summary or "",
        "url": actor.url,
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "followers": actor.followers,
        "following": actor.following,
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": manually_approves,
        "discoverable": True,
        "indexable": True,
        "published": iso(actor.created_at),
        "publicKey": {
            "id": actor.public_key_id,
            "owner": actor.ap_id,
            "publicKeyPem": actor.public_key_pem,
        },
    }
    if icon and actor.deleted_at is None:
        document["icon"] = {"type": "Image", "mediaType": "image/webp", "url": icon}
    if actor.deleted_at is not None:
        document.update(name="", summary="", discoverable=False, indexable=False)
    if actor.ap_type == "Application":
        # The instance actor only signs fetches: nobody follows it or reads its posts.
        document["manuallyApprovesFollowers"] = True
        document["discoverable"] = False
        document["indexable"] = False
    return document


def _hashtags(tags: list[str] | None, urls: Urls) -> list[dict[str, str]]:
    return [{"type": "Hashtag", "href": urls.tag(t), "name": f"#{t}"} for t in tags or []]


def replies_ref(object_url: str, urls: Urls, total: int) -> dict[str, Any]:
    """The ``replies`` property: the collection's id, size and first page."""
    replies = urls.replies(object_url)
    return {"id": replies, "type": "OrderedCollection", "totalItems": total, "first": replies + "?page=1"}


def article_to_ap(article: Object, author: Actor, site: Actor, urls: Urls) -> dict[str, Any]:
    """A local article as an ``Article`` (FEP-1b12 thread: ``name`` title, ``audience`` the Group).

    No ``summary``: Mastodon would show it as a content warning.  The ``content`` is
    rendered from the Markdown within Mastodon's allowlist (headings bold, pictures as
    links), while our own page keeps the richer HTML stored in ``article.content``.
    """
    content = render_markdown_for_fediverse(article.source) if article.is_local and article.source else article.content
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": article.ap_id,
        "type": "Article",
        "name": article.name,
        "content": content,
        "mediaType": "text/html",
        "source": {"content": article.source or "", "mediaType": "text/markdown"},
        "url": article.url or article.ap_id,
        "attributedTo": author.ap_id,
        "audience": site.ap_id,
        "to": [PUBLIC],
        "cc": [author.followers, site.followers],
        "published": iso(article.published),
        "updated": iso(article.updated or article.published),
        "tag": _hashtags(article.tags, urls),
        "replies": replies_ref(article.ap_id, urls, article.replies_count),
        "context": urls.context(article.ap_id),
        "sensitive": False,
    }
    if article.language:
        document["contentMap"] = {article.language: content}
    document.update(reply_controls(article, author, site))
    return document


GOTOSOCIAL_NS = "https://gotosocial.org/ns"
# PeerTube's term, which Lemmy also sends on its posts.
COMMENTS_ENABLED_TERM = {"pt": "https://joinpeertube.org/ns#", "commentsEnabled": "pt:commentsEnabled"}


def replies_open(article: Object) -> bool:
    """Whether anyone may still reply at all (not closed, not locked, closing time not passed)."""
    if article.reply_policy == "closed" or article.locked:
        return False
    return article.replies_close_at is None or article.replies_close_at > utcnow()


def reply_controls(article: Object, author: Actor, site: Actor) -> dict[str, Any]:
    """Who may reply, as GoToSocial's ``interactionPolicy.canReply`` and PeerTube/Lemmy's ``commentsEnabled``.

    GoToSocial reads ``automaticApproval``/``manualApproval`` (its 0.20 names; ``always`` and
    ``approvalRequired`` are the older ones, still sent for older servers).  Fednode enforces the
    same rules on receipt (node.moderation.policy), whatever the replier's server does.
    """
    policy = article.reply_policy or "open"
    if not replies_open(article):
        automatic, manual = [author.ap_id], []
    elif policy == "followers":
        automatic, manual = [author.ap_id, author.followers, site.followers], []
    elif policy == "approval":
        automatic, manual = [author.ap_id], [PUBLIC]
    else:
        automatic, manual = [PUBLIC], []
    automatic = [a for a in automatic if a]
    can_reply = {"automaticApproval": automatic, "manualApproval": manual,
                 "always": automatic, "approvalRequired": manual}
    return {
        "@context": [*CONTEXT, GOTOSOCIAL_NS, COMMENTS_ENABLED_TERM],
        "interactionPolicy": {"canReply": can_reply},
        "commentsEnabled": replies_open(article),
    }


def mention_links(tags: list[Any]) -> str:
    """The leading ``@user`` links of a reply, from its ``Mention`` tags, as Mastodon writes them.

    Mastodon shows a reply's text as it is, so a reply that names its parent's author in ``tag``
    only (which is enough for the notification) would read as if addressed to nobody.
    """
    links = []
    for tag in tags:
        if isinstance(tag, dict) and tag.get("type") == "Mention" and isinstance(tag.get("href"), str):
            user = str(tag.get("name") or "").lstrip("@").split("@")[0] or "someone"
            links.append(f'<span class="h-card"><a href="{html.escape(tag["href"])}" class="u-url mention">'
                         f'@<span>{html.escape(user)}</span></a></span>')
    return " ".join(links)


def comment_to_ap(comment: Object, author: Actor, site: Actor, urls: Urls) -> dict[str, Any]:
    """A comment written on this node as a ``Note`` replying inside its thread.

    A member's comment keeps the addressing it was sent with (``node.members.posting``: FEP-11dd,
    its ``to``/``cc``/``tag``/``audience`` in ``raw``), so the document served at its id is the one
    its recipients got; the sample thread's comments (no ``raw``) are addressed to the followers of
    their author and of the site.
    """
    sent = comment.raw if isinstance(comment.raw, dict) else {}
    tags = sent.get("tag") if isinstance(sent.get("tag"), list) else []
    prefix = mention_links(tags)
    content = comment.content or ""
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": comment.ap_id,
        "type": "Note",
        "content": f"<p>{prefix}</p>{content}" if prefix else content,
        "mediaType": "text/html",
        "url": comment.url or comment.ap_id,
        "attributedTo": author.ap_id,
        "inReplyTo": comment.in_reply_to,
        "audience": sent.get("audience", site.ap_id),
        "to": sent.get("to", [PUBLIC]),
        "cc": sent.get("cc", [author.followers, site.followers]),
        "published": iso(comment.published),
        "updated": iso(comment.updated or comment.published),
        "replies": replies_ref(comment.ap_id, urls, comment.replies_count),
        "context": comment.context,
        "tag": tags,
        "sensitive": False,
    }
    if comment.source is not None and sent:
        document["source"] = {"content": comment.source, "mediaType": "text/markdown"}
    # FEP-11dd: a reply inherits its root's context, and publishes none when the root has none.
    for key in ("audience", "context"):
        if document[key] is None:
            del document[key]
    return document


def tombstone_to_ap(obj: Object) -> dict[str, Any]:
    """What a deleted object's URL answers (with 410 Gone)."""
    return {
        "@context": CONTEXT,
        "id": obj.ap_id,
        "type": "Tombstone",
        "formerType": obj.ap_type,
        "deleted": iso(obj.deleted_at),
    }


def create_to_ap(activity: Activity, object_document: dict[str, Any]) -> dict[str, Any]:
    """A ``Create`` wrapping the current version of its object, addressed like the object."""
    inner = {k: v for k, v in object_document.items() if k != "@context"}
    return {
        "@context": object_document.get("@context", CONTEXT),  # the object's terms (interactionPolicy…)
        "id": activity.ap_id,
        "type": "Create",
        "actor": activity.actor_ap_id,
        "published": inner.get("published"),
        "to": inner.get("to", [PUBLIC]),
        "cc": inner.get("cc", []),
        "object": inner,
    }


def ordered_collection(collection_id: str, total: int, *, first: str | None, last: str | None = None) -> dict[str, Any]:
    """The top of a paged ``OrderedCollection`` (items live on its pages)."""
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first:
        document["first"] = first
    if last:
        document["last"] = last
    return document


def collection_page(
    page_id: str, collection_id: str, items: list[Any], *, next_page: str | None, prev_page: str | None, total: int | None = None
) -> dict[str, Any]:
    """One ``OrderedCollectionPage`` of a collection."""
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if total is not None:
        document["totalItems"] = total
    if next_page:
        document["next"] = next_page
    if prev_page:
        document["prev"] = prev_page
    return document
