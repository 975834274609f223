"""Activity payloads shaped like the ones real servers send."""

from __future__ import annotations

import uuid

from node.federation.vocab import AS_NS, PUBLIC


def reply_to(article_url: str, actor, *, host_base: str | None = None) -> dict:
    """A Create(Note) shaped like Mastodon's, replying to ``article_url``."""
    base = host_base or actor.id.rsplit("/users/", 1)[0]
    note_id = f"{base}/users/{actor.document['preferredUsername']}/statuses/{uuid.uuid4().int % 10**18}"
    return {
        "@context": [AS_NS, {"ostatus": "http://ostatus.org#", "sensitive": "as:sensitive"}],
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor.id,
        "published": "2026-11-24T10:00:00Z",
        "to": [PUBLIC],
        "cc": [actor.document["followers"]],
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": article_url,
            "published": "2026-11-24T10:00:00Z",
            "url": note_id,
            "attributedTo": actor.id,
            "to": [PUBLIC],
            "cc": [actor.document["followers"]],
            "sensitive": False,
            "content": "<p>Nice article!</p>",
            "tag": [],
        },
        "signature": {"type": "RsaSignature2017", "creator": actor.key_id, "signatureValue": "bm90IGNoZWNrZWQ="},
    }


def follow_of(actor, target: str, n: int = 1) -> dict:
    """A Follow shaped like Mastodon's."""
    return {"@context": AS_NS, "id": f"{actor.id}#follows/{n}", "type": "Follow", "actor": actor.id, "object": target}


def mastodon_status(remote, actor, number: int, **extra) -> dict:
    """A public status as Mastodon 4.3 serves it when fetched by its id (the Note itself; the Create that
    delivers a new status is ``tests.payloads.mastodon_status``)."""
    status_id = f"{remote.base}/users/{actor.document['preferredUsername']}/statuses/{number}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive"}],
        "id": status_id, "type": "Note", "attributedTo": actor.id,
        "url": f"{remote.base}/@{actor.document['preferredUsername']}/{number}",
        "content": "<p>Our new harbour plan, in a thread</p>", "published": "2026-12-01T10:00:00Z",
        "to": [PUBLIC], "cc": [actor.id + "/followers"],
        "replies": {"id": status_id + "/replies", "type": "Collection",
                    "first": {"type": "CollectionPage", "next": status_id + "/replies?page=true", "items": []}},
        **extra,
    }
